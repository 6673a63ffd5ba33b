from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CycleConfig(AppConfig):
    name = "huikuan.cycle"
    verbose_name = _("Daily cycle")
    default_auto_field = "django.db.models.BigAutoField"

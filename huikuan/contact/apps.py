from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContactConfig(AppConfig):
    name = "huikuan.contact"
    verbose_name = _("Actions, promises and plans")
    default_auto_field = "django.db.models.BigAutoField"

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntakeConfig(AppConfig):
    name = "huikuan.intake"
    verbose_name = _("Import and export")
    default_auto_field = "django.db.models.BigAutoField"

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StrategyConfig(AppConfig):
    name = "huikuan.strategy"
    verbose_name = _("Segments and strategies")
    default_auto_field = "django.db.models.BigAutoField"

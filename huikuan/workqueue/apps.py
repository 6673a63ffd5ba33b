from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorkqueueConfig(AppConfig):
    name = "huikuan.workqueue"
    verbose_name = _("Work queues and assignment")
    default_auto_field = "django.db.models.BigAutoField"

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IamConfig(AppConfig):
    name = "huikuan.iam"
    label = "iam"
    verbose_name = _("Users and roles")

"""Every page of the web UI, under one namespace (``web:``).

The app modules included here declare no namespace of their own, so their names read
``web:ledger``, ``web:login``... wherever a template links to them.
"""

from django.urls import include, path

from huikuan.web import views

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("", include("huikuan.iam.urls")),
    path("", include("huikuan.ledger.urls")),
    path("", include("huikuan.intake.urls")),
    path("", include("huikuan.cycle.urls")),
    path("", include("huikuan.strategy.urls")),
    path("", include("huikuan.workqueue.urls")),
    path("", include("huikuan.contact.urls")),
    path("audit/", include("huikuan.audit.urls")),
]

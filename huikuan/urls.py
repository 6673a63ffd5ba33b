from django.urls import include, path

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include("huikuan.api.urls")),
    path("", include("huikuan.web.urls")),
]

# Included by huikuan.web.urls, so these names read web:ledger, web:account...
from django.urls import path

from huikuan.ledger import views

urlpatterns = [
    path("ledger/", views.ledger_list, name="ledger"),
    path("accounts/<int:pk>/", views.account_detail, name="account"),
    path("accounts/<int:pk>/payments/", views.payment_post, name="payment_post"),
    path("accounts/<int:pk>/status/", views.account_status, name="account_status"),
    path("payments/<int:pk>/reverse/", views.payment_reverse, name="payment_reverse"),
    path("aging/", views.aging, name="aging"),
]

"""Pages of a payments import: the review of unmatched and ambiguous bank lines."""

from django.urls import path

from huikuan.intake import views_payments as views

urlpatterns = [
    path("imports/<int:job_id>/payments/", views.payments_review, name="payments_review"),
    path("imports/<int:job_id>/payments/post/", views.payments_post, name="payments_post"),
    path(
        "imports/<int:job_id>/payments/lines/<int:line_id>/search/",
        views.payments_search,
        name="payments_search",
    ),
    path(
        "imports/<int:job_id>/payments/lines/<int:line_id>/assign/",
        views.payments_assign,
        name="payments_assign",
    ),
    path(
        "imports/<int:job_id>/payments/lines/<int:line_id>/skip/",
        views.payments_skip,
        name="payments_skip",
    ),
]

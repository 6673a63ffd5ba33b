"""Pages of the daily cycle (``web:`` namespace, see web/urls.py)."""

from django.urls import path

from huikuan.cycle import views, views_reports

urlpatterns = [
    path("cycle/", views.run_list, name="cycle_runs"),
    path("cycle/runs/<int:pk>/", views.run_detail, name="cycle_run"),
    path("cycle/runs/<int:pk>/progress/", views.run_progress, name="cycle_progress"),
    path("reports/aging/", views_reports.aging, name="report_aging"),
    path("reports/roll-rates/", views_reports.roll_rates, name="report_rolls"),
    path("reports/segments/", views_reports.segments, name="report_segments"),
    path("reports/actions/", views_reports.actions, name="report_actions"),
]

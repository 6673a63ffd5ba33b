"""Pages of segments and strategies (``web:`` namespace, see web/urls.py)."""

from django.urls import path

from huikuan.strategy import views, views_strategies

urlpatterns = [
    path("strategy/segments/", views.segment_list, name="segments"),
    path("strategy/segments/new/", views.segment_new, name="segment_new"),
    path("strategy/segments/preview/", views.segment_preview, name="segment_preview"),
    path("strategy/segments/<int:pk>/", views.segment_edit, name="segment_edit"),
    path("strategy/segments/<int:pk>/move/", views.segment_move, name="segment_move"),
    path("strategy/strategies/", views_strategies.strategy_list, name="strategies"),
    path(
        "strategy/strategies/<int:pk>/",
        views_strategies.strategy_version,
        name="strategy_version",
    ),
    path(
        "strategy/strategies/<int:pk>/new-version/",
        views_strategies.strategy_new_version,
        name="strategy_new_version",
    ),
    path(
        "strategy/strategies/<int:pk>/status/",
        views_strategies.strategy_status,
        name="strategy_status",
    ),
]

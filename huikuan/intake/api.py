"""API endpoints of imports (jobs) and exports; the payments review has its own router."""

from ninja import Router

from huikuan.intake.api_export import router as export_router
from huikuan.intake.api_payments import router as payments_router

router = Router()
router.add_router("/", export_router)
router.add_router("/", payments_router)

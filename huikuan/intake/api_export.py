"""API endpoints of the XLSX exports."""

from ninja import Router

router = Router()

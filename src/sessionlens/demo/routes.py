"""The demo shop at /demo/: a small site with the recorder on every page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.templating import Jinja2Templates

from sessionlens import bootstrap
from sessionlens.context import ctx_of
from sessionlens.demo import catalog

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).parent / "static"


def _page(request: Request, name: str, **extra: Any) -> Response:
    ctx = ctx_of(request)
    key = getattr(request.app.state, "demo_key", None)
    if key is None:
        key = bootstrap.demo_key(ctx.engine, ctx.settings)
        request.app.state.demo_key = key
    if key is None:
        raise HTTPException(404, "The demo project does not exist.")
    context = {
        "project_key": key,
        "base_url": ctx.settings.base_url,
        "products": catalog.PRODUCTS,
        **extra,
    }
    return templates.TemplateResponse(request, name, context)


@router.get("/demo")
@router.get("/demo/")
def home(request: Request) -> Response:
    return _page(request, "index.html")


@router.get("/demo/products")
def product_list(request: Request) -> Response:
    return _page(request, "products.html")


@router.get("/demo/products/{slug}")
def product_page(request: Request, slug: str) -> Response:
    product = catalog.find(slug)
    if product is None:
        raise HTTPException(404, "No such product.")
    return _page(request, "product.html", product=product)


@router.get("/demo/cart")
def cart(request: Request) -> Response:
    return _page(request, "cart.html")


@router.get("/demo/checkout")
def checkout(request: Request) -> Response:
    return _page(request, "checkout.html")


@router.get("/demo/thanks")
def thanks(request: Request) -> Response:
    return _page(request, "thanks.html")


@router.get("/demo/contact")
def contact(request: Request) -> Response:
    return _page(request, "contact.html")

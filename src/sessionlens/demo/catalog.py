"""The demo shop's product catalog: a fixed, immutable list of products."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

__all__ = ["PRODUCTS", "Product", "find"]


@dataclass(frozen=True, slots=True)
class Product:
    """One product of the demo shop.

    ``colour`` is a CSS colour used to draw the product's picture; the last word of ``slug``
    (``lamp``, ``mug``, ...) picks the picture's shape.
    """

    slug: str
    name: str
    price_cents: int
    colour: str
    summary: str
    description: str


PRODUCTS: Final[tuple[Product, ...]] = (
    Product(
        slug="aurora-desk-lamp",
        name="Aurora Desk Lamp",
        price_cents=6400,
        colour="#f2a93b",
        summary="A warm, dimmable lamp with a weighted brass base.",
        description=(
            "Aurora throws a soft, even pool of light across your desk without glare. "
            "The shade tilts through 90 degrees, the touch dimmer remembers your last "
            "setting, and the weighted base keeps it steady next to a busy keyboard."
        ),
    ),
    Product(
        slug="harbor-stoneware-mug",
        name="Harbor Stoneware Mug",
        price_cents=2400,
        colour="#3a7ca5",
        summary="A 350 ml hand-glazed mug that keeps coffee hot for longer.",
        description=(
            "Thrown in small batches and dipped in a deep harbour-blue glaze, every mug is "
            "slightly different. The thick stoneware walls hold heat, the wide handle fits "
            "three fingers, and it is happy in the dishwasher and the microwave."
        ),
    ),
    Product(
        slug="ledger-dot-notebook",
        name="Ledger Dot-Grid Notebook",
        price_cents=1800,
        colour="#2f4858",
        summary="192 pages of 100 gsm dot-grid paper that lies flat.",
        description=(
            "A lay-flat binding, numbered pages and two ribbon markers make Ledger the "
            "notebook you actually finish. The 100 gsm paper takes fountain-pen ink "
            "without bleeding, and the linen cover softens nicely with use."
        ),
    ),
    Product(
        slug="cedar-soy-candle",
        name="Cedar Soy Candle",
        price_cents=2200,
        colour="#8c6a4f",
        summary="Cedarwood and bergamot, poured into a reusable glass jar.",
        description=(
            "Hand-poured soy wax with a cotton wick burns cleanly for about 45 hours. "
            "The scent opens with bright bergamot and settles into dry cedar and a hint "
            "of smoke. When it is done, the amber jar makes a fine pencil cup."
        ),
    ),
    Product(
        slug="terra-plant-pot",
        name="Terra Plant Pot",
        price_cents=2900,
        colour="#c8553d",
        summary="An unglazed terracotta pot with a matching drainage saucer.",
        description=(
            "Terra breathes the way terracotta should, so roots stay healthy and soil "
            "dries evenly. The 15 cm pot comes with a glazed saucer that protects your "
            "shelves, and a cork pad underneath keeps it from scratching."
        ),
    ),
    Product(
        slug="nimbus-wool-throw",
        name="Nimbus Wool Throw",
        price_cents=8900,
        colour="#7d8ca3",
        summary="A soft merino blend throw, 130 by 170 cm.",
        description=(
            "Woven from a merino and recycled-cotton blend, Nimbus is warm without being "
            "heavy. The herringbone weave hides the odd coffee spill, the fringed edges "
            "are hand-knotted, and it washes on a gentle wool cycle."
        ),
    ),
    Product(
        slug="tempo-wall-clock",
        name="Tempo Wall Clock",
        price_cents=5400,
        colour="#3d5a40",
        summary="A silent-sweep wall clock with an oak frame.",
        description=(
            "No ticking, ever: Tempo's sweep movement glides rather than steps, so it "
            "belongs in a bedroom as much as a kitchen. The 30 cm face is easy to read "
            "across a room and the solid oak frame is finished with natural oil."
        ),
    ),
    Product(
        slug="glide-fountain-pen",
        name="Glide Fountain Pen",
        price_cents=3600,
        colour="#5b3f8c",
        summary="A balanced aluminium fountain pen with a fine steel nib.",
        description=(
            "Glide is light enough for long writing sessions and balanced with or "
            "without the cap posted. It takes standard international cartridges or the "
            "included converter, and the fine steel nib writes smoothly from the first line."
        ),
    ),
)

_BY_SLUG: Final[Mapping[str, Product]] = MappingProxyType(
    {product.slug: product for product in PRODUCTS}
)


def find(slug: str) -> Product | None:
    """Return the product with this slug, or ``None`` if there is none."""
    return _BY_SLUG.get(slug)

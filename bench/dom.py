"""A shop page's DOM as rrweb serialises it: nested node objects with ids, built from a seeded RNG.

Node types as in rrweb-snapshot: 0 document, 1 doctype, 2 element, 3 text. Stylesheets are
inlined as rrweb does by default (`_cssText` on <link>, `isStyle` text in <style>).
"""

from __future__ import annotations

import random
from typing import Any

import orjson

Node = dict[str, Any]

_WORDS_TEXT = (
    "shop cart product price free shipping returns order size colour blue black white cotton "
    "linen jacket shirt dress shoes bag sale new arrivals women men kids home garden kitchen "
    "lamp chair table sofa wool leather classic slim fit organic soft everyday weekend summer "
    "winter collection limited edition best seller review stars delivery days store account "
    "help contact about careers press gift card newsletter sign up email privacy terms cookie "
    "settings language currency search menu close open view details add to wishlist compare "
    "stock available only left recycled handmade in europe since warm light waterproof"
)
WORDS = tuple(_WORDS_TEXT.split())
_UTILITY_CLASSES_TEXT = (
    "flex grid block hidden inline-flex items-center justify-between justify-center gap-2 gap-4 "
    "px-2 px-4 py-1 py-2 mt-2 mb-4 text-sm text-lg text-xs font-medium font-semibold "
    "text-gray-500 text-gray-700 text-gray-900 bg-white bg-gray-50 rounded-md rounded-lg "
    "shadow-sm border border-gray-200 hover:bg-gray-100 w-full h-full md:grid-cols-3 "
    "lg:grid-cols-4 sm:px-6 truncate leading-6 tracking-tight relative absolute z-10"
)
UTILITY_CLASSES = tuple(_UTILITY_CLASSES_TEXT.split())
_COMPONENTS_TEXT = (
    "product-card site-header nav footer price badge button filter breadcrumb hero drawer "
    "newsletter rating swatch"
)
COMPONENTS = tuple(_COMPONENTS_TEXT.split())
CSS_PROPERTIES = (
    "display:flex",
    "display:grid",
    "margin:0 auto",
    "line-height:1.5",
    "transition:all .2s ease-in-out",
    "position:relative",
    "font-weight:600",
    "text-decoration:none",
    "overflow:hidden",
    "cursor:pointer",
)


class DomBuilder:
    """Builds nodes with fresh ids and remembers which ids the session can act on."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.last_id = 0
        self.elements: list[int] = []
        self.texts: list[int] = []
        self.inputs: list[int] = []
        self.containers: list[int] = []
        self.document_id = 0
        # A site's components reuse a fixed set of class lists and colours, as real CSS does.
        self.class_lists = [self._class_list() for _ in range(60)]
        self.palette = [f"#{rng.getrandbits(24):06x}" for _ in range(24)]
        self.icons = [self._icon_path() for _ in range(8)]

    def new_id(self) -> int:
        self.last_id += 1
        return self.last_id

    def words(self, low: int, high: int) -> str:
        return " ".join(self.rng.choices(WORDS, k=self.rng.randint(low, high)))

    def _class_list(self) -> str:
        names = self.rng.sample(UTILITY_CLASSES, self.rng.randint(2, 7))
        return " ".join(names)

    def classes(self, component: str = "") -> str:
        names = self.rng.choice(self.class_lists)
        if component:
            part = self.rng.choice(("title", "body", "link", "meta"))
            return f"{component}__{part} {names}"
        return names

    def element(self, tag: str, attributes: dict[str, str] | None = None, *kids: Node) -> Node:
        node: Node = {"type": 2, "tagName": tag, "attributes": attributes or {}, "childNodes": []}
        node["id"] = self.new_id()
        if tag in {"svg", "path"}:
            node["isSVG"] = True
        self.elements.append(node["id"])
        for kid in kids:
            # Browsers keep the indentation between tags as text nodes, and rrweb records them.
            node["childNodes"].append({"type": 3, "textContent": "\n  ", "id": self.new_id()})
            node["childNodes"].append(kid)
        return node

    def text(self, content: str) -> Node:
        node: Node = {"type": 3, "textContent": content, "id": self.new_id()}
        self.texts.append(node["id"])
        return node

    def css(self, size: int) -> str:
        rng = self.rng
        rules: list[str] = []
        total = 0
        while total < size:
            selector = rng.choice(
                (
                    f".{rng.choice(COMPONENTS)}__{rng.choice(WORDS)}",
                    f".{rng.choice(UTILITY_CLASSES)}",
                )
            )
            declarations = [
                *rng.sample(CSS_PROPERTIES, rng.randint(1, 3)),
                f"padding:{rng.randint(0, 32)}px {rng.randint(0, 48)}px",
                f"color:{rng.choice(self.palette)}",
                f"font-size:{rng.randint(10, 40) / 16:.4g}rem",
            ]
            rule = f"{selector}{{{';'.join(declarations)}}}"
            if rng.random() < 0.15:
                rule = f"@media (min-width:{rng.choice((640, 768, 1024, 1280))}px){{{rule}}}"
            rules.append(rule)
            total += len(rule)
        return "".join(rules)

    def icon(self) -> Node:
        attributes = {"viewBox": "0 0 24 24", "fill": "none", "class": "h-5 w-5"}
        return self.element(
            "svg", attributes, self.element("path", {"d": self.rng.choice(self.icons)})
        )

    def _icon_path(self) -> str:
        rng = self.rng
        points = " ".join(
            f"{rng.choice('MLCQ')}{rng.uniform(0, 24):.2f} {rng.uniform(0, 24):.2f}"
            for _ in range(rng.randint(4, 16))
        )
        return points + "Z"

    def link(self, label: str) -> Node:
        href = f"/{'-'.join(self.rng.choices(WORDS, k=2))}/{self.rng.randint(1, 9999)}"
        return self.element("a", {"href": href, "class": self.classes("nav")}, self.text(label))

    def card(self) -> Node:
        rng = self.rng
        image = self.element(
            "img",
            {
                "src": f"https://cdn.shop.example/img/{rng.getrandbits(64):016x}.jpg",
                "alt": self.words(2, 5),
                "loading": "lazy",
                "width": "320",
                "height": "400",
                "class": self.classes("product-card"),
            },
        )
        price = f"\u20ac{rng.randint(5, 400)}.{rng.randint(0, 99):02d}"
        button = self.element(
            "button",
            {"type": "button", "class": self.classes("button"), "aria-label": "Add to cart"},
            self.icon(),
            self.text("Add to cart"),
        )
        return self.element(
            "div",
            {"class": self.classes("product-card"), "data-product-id": str(rng.randint(1, 99999))},
            self.link(self.words(2, 6)),
            image,
            self.element(
                "h3", {"class": self.classes("product-card")}, self.text(self.words(2, 6))
            ),
            self.element("p", {"class": self.classes()}, self.text(self.words(8, 30))),
            self.element("span", {"class": self.classes("price")}, self.text(price)),
            button,
        )

    def field(self) -> Node:
        node = self.element(
            "input",
            {
                "type": "text",
                "name": self.rng.choice(WORDS),
                "value": "***",
                "class": self.classes(),
            },
        )
        self.inputs.append(node["id"])
        return node

    def section(self) -> Node:
        """A heading, a filter form and a grid of product cards."""
        cards = [self.card() for _ in range(self.rng.randint(8, 24))]
        grid = self.element("div", {"class": self.classes()}, *cards)
        self.containers.append(grid["id"])
        filters = self.element(
            "form", {"class": self.classes("filter")}, self.field(), self.field()
        )
        heading = self.element("h2", {"class": self.classes()}, self.text(self.words(2, 5)))
        return self.element("section", {"class": self.classes("hero")}, heading, filters, grid)

    def page(self, size: int, url: str) -> Node:
        """A document whose JSON is about `size` bytes, a fifth of it CSS."""
        self.document_id = self.new_id()
        stylesheet = self.element(
            "link",
            {"rel": "stylesheet", "href": "/static/site.css", "_cssText": self.css(size // 8)},
        )
        style = self.element("style", {}, {"type": 3, "textContent": "", "id": self.new_id()})
        style["childNodes"][-1]["textContent"] = self.css(size // 16)
        style["childNodes"][-1]["isStyle"] = True
        head = self.element(
            "head",
            {},
            self.element("meta", {"charset": "utf-8"}),
            self.element("title", {}, self.text(self.words(3, 8))),
            self.element("link", {"rel": "canonical", "href": url}),
            stylesheet,
            style,
        )
        nav = self.element(
            "nav", {"class": self.classes("nav")}, *(self.link(w) for w in WORDS[:9])
        )
        header = self.element("header", {"class": self.classes("site-header")}, nav, self.field())
        main = self.element("main", {"class": self.classes()})
        self.containers.append(main["id"])
        grown = len(orjson.dumps(head)) + len(orjson.dumps(header))
        while grown < size:
            section = self.section()
            main["childNodes"].append(section)
            grown += len(orjson.dumps(section))
        footer = self.element("footer", {"class": self.classes("footer")}, self.link("Privacy"))
        html = self.element(
            "html", {"lang": "en"}, head, self.element("body", {}, header, main, footer)
        )
        doctype = {"type": 1, "name": "html", "publicId": "", "systemId": "", "id": self.new_id()}
        document: Node = {"type": 0, "childNodes": [doctype, html], "compatMode": "CSS1Compat"}
        document["id"] = self.document_id
        self._renumber(document)
        return document

    def _renumber(self, document: Node) -> None:
        """Ids in document order, as rrweb assigns them while walking the DOM."""
        new_ids: dict[int, int] = {}
        stack = [document]
        while stack:
            node = stack.pop()
            new_ids[node["id"]] = node["id"] = len(new_ids) + 1
            stack.extend(reversed(node.get("childNodes", ())))
        for ids in (self.elements, self.texts, self.inputs, self.containers):
            ids[:] = [new_ids[old] for old in ids]
        self.document_id = new_ids[self.document_id]

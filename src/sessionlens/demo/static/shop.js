/* Lumen Supply demo shop: a cart kept in localStorage and client-side form handling.
 * Nothing here talks to a server; the sessionlens recorder (loaded separately) records the visit. */
(function () {
  "use strict";

  var CART_KEY = "lumen-supply-cart";
  var ORDER_KEY = "lumen-supply-last-order";
  var FREE_SHIPPING_FROM = 5000;
  var SHIPPING_CENTS = 490;
  var MAX_QTY = 20;

  var baseUrl = (document.body && document.body.getAttribute("data-base-url")) || "";

  function $(selector, root) { return (root || document).querySelector(selector); }
  function $all(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }

  function money(cents) {
    var n = Math.max(0, Math.round(Number(cents) || 0));
    var dollars = Math.floor(n / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    var rest = n % 100;
    return "$" + dollars + "." + (rest < 10 ? "0" : "") + rest;
  }

  function clampQty(value) {
    var n = parseInt(value, 10);
    if (!isFinite(n) || n < 1) { return 1; }
    return Math.min(n, MAX_QTY);
  }

  /* Custom events for the replay timeline, if the recorder is loaded. Never personal data. */
  function track(name, props) {
    try {
      var sl = window.sessionlens;
      if (sl && typeof sl.event === "function") { sl.event(name, props || {}); }
    } catch (e) { /* the demo must work without the recorder */ }
  }

  /* ---- the cart ---------------------------------------------------------------------- */

  function readCart() {
    try {
      var items = JSON.parse(window.localStorage.getItem(CART_KEY) || "[]");
      if (!Array.isArray(items)) { return []; }
      return items.filter(function (it) {
        return it && typeof it.slug === "string" && typeof it.name === "string";
      }).map(function (it) {
        return {
          slug: it.slug, name: it.name, colour: String(it.colour || "#999"),
          price_cents: Math.max(0, parseInt(it.price_cents, 10) || 0), qty: clampQty(it.qty)
        };
      });
    } catch (e) {
      return [];
    }
  }

  function writeCart(items) {
    try { window.localStorage.setItem(CART_KEY, JSON.stringify(items)); } catch (e) { /* private mode */ }
    updateCount(items);
  }

  function clearCart() {
    try { window.localStorage.removeItem(CART_KEY); } catch (e) { /* ignore */ }
    updateCount([]);
  }

  function totals(items) {
    var count = 0;
    var subtotal = 0;
    items.forEach(function (it) { count += it.qty; subtotal += it.qty * it.price_cents; });
    var shipping = subtotal === 0 || subtotal >= FREE_SHIPPING_FROM ? 0 : SHIPPING_CENTS;
    return { count: count, subtotal: subtotal, shipping: shipping, total: subtotal + shipping };
  }

  function updateCount(items) {
    var badge = document.getElementById("cart-count");
    if (!badge) { return; }
    var count = totals(items || readCart()).count;
    badge.textContent = String(count);
    badge.setAttribute("aria-label", count === 1 ? "1 item in cart" : count + " items in cart");
    badge.classList.toggle("has-items", count > 0);
  }

  function addToCart(product, qty) {
    var items = readCart();
    var existing = items.filter(function (it) { return it.slug === product.slug; })[0];
    if (existing) {
      existing.qty = clampQty(existing.qty + qty);
    } else {
      items.push({
        slug: product.slug, name: product.name, colour: product.colour,
        price_cents: product.price_cents, qty: clampQty(qty)
      });
    }
    writeCart(items);
    return items;
  }

  function renderTotals(items) {
    var t = totals(items);
    var set = function (id, text) { var el = document.getElementById(id); if (el) { el.textContent = text; } };
    set("cart-subtotal", money(t.subtotal));
    set("cart-shipping", t.shipping === 0 ? (t.subtotal === 0 ? money(0) : "Free") : money(t.shipping));
    set("cart-total", money(t.total));
    return t;
  }

  /* ---- product page ------------------------------------------------------------------ */

  function initProductPage() {
    var form = document.getElementById("add-form");
    var button = document.getElementById("add-to-cart");
    var qtyInput = document.getElementById("quantity");
    if (!form || !button || !qtyInput) { return; }

    $all("[data-qty-step]", form).forEach(function (btn) {
      btn.addEventListener("click", function () {
        var step = parseInt(btn.getAttribute("data-qty-step"), 10) || 0;
        qtyInput.value = String(clampQty(clampQty(qtyInput.value) + step));
      });
    });
    qtyInput.addEventListener("change", function () { qtyInput.value = String(clampQty(qtyInput.value)); });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var qty = clampQty(qtyInput.value);
      qtyInput.value = String(qty);
      var product = {
        slug: button.getAttribute("data-slug"),
        name: button.getAttribute("data-name"),
        colour: button.getAttribute("data-colour"),
        price_cents: parseInt(button.getAttribute("data-price-cents"), 10) || 0
      };
      addToCart(product, qty);
      track("add_to_cart", { slug: product.slug, quantity: qty });

      var status = document.getElementById("add-status");
      if (status) {
        status.textContent = "";
        status.appendChild(document.createTextNode("Added " + qty + " × " + product.name + " to your cart. "));
        var link = document.createElement("a");
        link.href = baseUrl + "/demo/cart";
        link.id = "view-cart";
        link.textContent = "View cart →";
        status.appendChild(link);
        status.hidden = false;
      }
      button.classList.add("is-added");
      window.setTimeout(function () { button.classList.remove("is-added"); }, 900);
    });
  }

  /* ---- cart page --------------------------------------------------------------------- */

  function initCartPage() {
    var list = document.getElementById("cart-items");
    var template = document.getElementById("cart-item-template");
    if (!list || !template) { return; }

    function render() {
      var items = readCart();
      list.textContent = "";
      items.forEach(function (it, index) {
        var row = template.content.firstElementChild.cloneNode(true);
        row.setAttribute("data-slug", it.slug);
        $(".cart-item-swatch", row).style.background = it.colour;
        var name = $(".cart-item-name", row);
        name.textContent = it.name;
        name.href = baseUrl + "/demo/products/" + encodeURIComponent(it.slug);
        $(".cart-item-price", row).textContent = money(it.price_cents) + " each";
        var qty = $(".cart-item-qty", row);
        var label = $("label", row);
        qty.id = "qty-" + index;
        qty.name = "qty-" + it.slug;
        qty.value = String(it.qty);
        label.setAttribute("for", qty.id);
        label.textContent = "Quantity of " + it.name;
        $(".cart-item-line", row).textContent = money(it.qty * it.price_cents);
        var remove = $(".cart-item-remove", row);
        remove.setAttribute("aria-label", "Remove " + it.name);
        list.appendChild(row);
      });
      var empty = items.length === 0;
      var emptyState = document.getElementById("cart-empty");
      if (emptyState) { emptyState.hidden = !empty; }
      list.hidden = empty;
      var checkout = document.getElementById("checkout-link");
      if (checkout) {
        checkout.classList.toggle("is-disabled", empty);
        checkout.setAttribute("aria-disabled", empty ? "true" : "false");
      }
      renderTotals(items);
    }

    list.addEventListener("change", function (event) {
      var input = event.target;
      if (!input.classList || !input.classList.contains("cart-item-qty")) { return; }
      var slug = input.closest(".cart-item").getAttribute("data-slug");
      var items = readCart();
      items.forEach(function (it) { if (it.slug === slug) { it.qty = clampQty(input.value); } });
      writeCart(items);
      track("cart_quantity_changed", { slug: slug, quantity: clampQty(input.value) });
      render();
      var again = document.querySelector('.cart-item[data-slug="' + slug + '"] .cart-item-qty');
      if (again) { again.focus(); }
    });

    list.addEventListener("click", function (event) {
      var btn = event.target.closest ? event.target.closest(".cart-item-remove") : null;
      if (!btn) { return; }
      var slug = btn.closest(".cart-item").getAttribute("data-slug");
      writeCart(readCart().filter(function (it) { return it.slug !== slug; }));
      track("cart_item_removed", { slug: slug });
      render();
    });

    var checkout = document.getElementById("checkout-link");
    if (checkout) {
      checkout.addEventListener("click", function () { track("checkout_started", { items: totals(readCart()).count }); });
    }

    window.addEventListener("storage", function (event) { if (event.key === CART_KEY) { render(); } });
    render();
  }

  /* ---- form validation --------------------------------------------------------------- */

  var EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

  function showError(field, message) {
    var error = document.getElementById(field.id + "-error");
    var wrapper = field.closest(".field");
    if (message) {
      field.setAttribute("aria-invalid", "true");
      if (wrapper) { wrapper.classList.add("has-error"); }
      if (error) { error.textContent = message; error.hidden = false; }
    } else {
      field.removeAttribute("aria-invalid");
      if (wrapper) { wrapper.classList.remove("has-error"); }
      if (error) { error.textContent = ""; error.hidden = true; }
    }
  }

  /* rules: {fieldId: function(field) -> error message or ""} */
  function validate(form, rules) {
    var firstInvalid = null;
    var count = 0;
    Object.keys(rules).forEach(function (id) {
      var field = document.getElementById(id);
      if (!field) { return; }
      var message = rules[id](field);
      showError(field, message);
      if (message) {
        count += 1;
        if (!firstInvalid) { firstInvalid = field; }
      }
    });
    if (firstInvalid) { firstInvalid.focus(); }
    return count;
  }

  /* Re-check a field as the visitor fixes it, once it has been flagged. */
  function liveRevalidate(form, rules) {
    var handler = function (event) {
      var field = event.target;
      if (!field.id || !rules[field.id] || field.getAttribute("aria-invalid") !== "true") { return; }
      showError(field, rules[field.id](field));
    };
    form.addEventListener("input", handler);
    form.addEventListener("change", handler);
  }

  function required(label) {
    return function (field) { return field.value.trim() ? "" : "Please enter " + label + "."; };
  }

  function email(field) {
    var v = field.value.trim();
    if (!v) { return "Please enter your email address."; }
    return EMAIL_RE.test(v) ? "" : "Please enter a valid email address, like name@example.com.";
  }

  /* ---- checkout page ----------------------------------------------------------------- */

  function initCheckoutPage() {
    var form = document.getElementById("checkout-form");
    if (!form) { return; }

    var items = readCart();
    var list = document.getElementById("summary-items");
    if (list) {
      items.forEach(function (it) {
        var li = document.createElement("li");
        var name = document.createElement("span");
        name.textContent = it.qty + " × " + it.name;
        var price = document.createElement("span");
        price.textContent = money(it.qty * it.price_cents);
        li.appendChild(name);
        li.appendChild(price);
        list.appendChild(li);
      });
    }
    var empty = document.getElementById("summary-empty");
    if (empty) { empty.hidden = items.length > 0; }
    renderTotals(items);

    var rules = {
      "name": required("your full name"),
      "email": email,
      "address": required("your address"),
      "city": required("your city"),
      "postcode": required("your postcode"),
      "country": function (f) { return f.value ? "" : "Please choose a country."; },
      "cardnumber": function (f) {
        var digits = f.value.replace(/[\s-]/g, "");
        if (!digits) { return "Please enter your card number."; }
        return /^\d{12,19}$/.test(digits) ? "" : "A card number is 12 to 19 digits.";
      },
      "cc-exp": function (f) {
        var v = f.value.trim();
        if (!v) { return "Please enter the expiry date."; }
        var m = /^(\d{1,2})\s*\/\s*(\d{2}|\d{4})$/.exec(v);
        if (!m || +m[1] < 1 || +m[1] > 12) { return "Use the format MM/YY, for example 08/29."; }
        return "";
      },
      "cvc": function (f) {
        var v = f.value.trim();
        if (!v) { return "Please enter the security code."; }
        return /^\d{3,4}$/.test(v) ? "" : "The security code is 3 or 4 digits.";
      },
      "cc-name": required("the name on the card")
    };
    liveRevalidate(form, rules);

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var summary = document.getElementById("checkout-errors");
      var errors = validate(form, rules);
      if (errors) {
        if (summary) {
          summary.textContent = errors === 1
            ? "Please correct the highlighted field."
            : "Please correct the " + errors + " highlighted fields.";
          summary.hidden = false;
        }
        track("checkout_invalid", { errors: errors });
        return;
      }
      if (summary) { summary.hidden = true; }
      var button = document.getElementById("place-order");
      if (button) { button.disabled = true; button.textContent = "Placing order…"; }

      var t = totals(readCart());
      var order = {
        number: "LS-" + Date.now().toString(36).toUpperCase().slice(-6),
        items: t.count,
        total_cents: t.total
      };
      try { window.sessionStorage.setItem(ORDER_KEY, JSON.stringify(order)); } catch (e) { /* ignore */ }
      track("order_placed", { items: order.items, total_cents: order.total_cents });
      clearCart();
      /* A short pause so the "Placing order…" state shows up in the replay. */
      window.setTimeout(function () { window.location.href = baseUrl + "/demo/thanks"; }, 250);
    });
  }

  /* ---- thanks page ------------------------------------------------------------------- */

  function initThanksPage() {
    var numberEl = document.getElementById("order-number");
    if (!numberEl) { return; }
    try {
      var order = JSON.parse(window.sessionStorage.getItem(ORDER_KEY) || "null");
      if (order && typeof order.number === "string") {
        numberEl.textContent = order.number;
        if (order.total_cents > 0) {
          document.getElementById("order-total").textContent = money(order.total_cents);
          document.getElementById("order-total-line").hidden = false;
        }
      }
    } catch (e) { /* keep the placeholder */ }
  }

  /* ---- contact page ------------------------------------------------------------------ */

  function initContactPage() {
    var form = document.getElementById("contact-form");
    if (!form) { return; }
    var rules = {
      "contact-name": required("your name"),
      "contact-email": email,
      "contact-topic": function (f) { return f.value ? "" : "Please choose a topic."; },
      "contact-message": function (f) {
        var v = f.value.trim();
        if (!v) { return "Please write a message."; }
        return v.length >= 5 ? "" : "Please write a little more.";
      },
      "contact-consent": function (f) { return f.checked ? "" : "Please tick the box so we can reply."; }
    };
    liveRevalidate(form, rules);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (validate(form, rules)) { return; }
      var topic = document.getElementById("contact-topic").value;
      track("contact_sent", { topic: topic });
      form.reset();
      form.hidden = true;
      var success = document.getElementById("contact-success");
      if (success) { success.hidden = false; success.focus(); }
    });
  }

  function init() {
    updateCount();
    window.addEventListener("storage", function (event) { if (event.key === CART_KEY) { updateCount(); } });
    initProductPage();
    initCartPage();
    initCheckoutPage();
    initThanksPage();
    initContactPage();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();

// Drawing heat on a canvas: blurred points in alpha, then coloured through a palette,
// and bands of the page shaded by their share. No library: a few dozen lines of canvas.

const RADIUS = 18;
const STOPS = [
  [0.0, [0, 0, 255]],
  [0.35, [0, 200, 255]],
  [0.55, [0, 230, 0]],
  [0.75, [255, 230, 0]],
  [1.0, [255, 0, 0]],
];

function mix(t) {
  for (let i = 1; i < STOPS.length; i++) {
    const [t1, c1] = STOPS[i];
    const [t0, c0] = STOPS[i - 1];
    if (t <= t1) {
      const f = (t - t0) / (t1 - t0 || 1);
      return c0.map((v, k) => Math.round(v + (c1[k] - v) * f));
    }
  }
  return STOPS[STOPS.length - 1][1];
}

/** Colour for a share from 0 to 1, as an rgba() string. */
export function colour(share, alpha) {
  const [r, g, b] = mix(Math.max(0, Math.min(1, share)));
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}

const PALETTE = (() => {
  const out = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) out.set(mix(i / 255), i * 3);
  return out;
})();

/**
 * Heat of weighted points [{x, y, w}] in canvas pixels. The heaviest point is full heat;
 * light ones keep a floor so that a single click still shows.
 */
export function drawPoints(canvas, points, radius = RADIUS) {
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!points.length) return 0;
  const max = Math.max(...points.map((p) => p.w));
  for (const p of points) {
    const alpha = Math.min(1, 0.12 + 0.88 * (p.w / max));
    const g = ctx.createRadialGradient(p.x, p.y, 0, p.x, p.y, radius);
    g.addColorStop(0, `rgba(0, 0, 0, ${alpha})`);
    g.addColorStop(1, 'rgba(0, 0, 0, 0)');
    ctx.fillStyle = g;
    ctx.fillRect(p.x - radius, p.y - radius, radius * 2, radius * 2);
  }
  const image = ctx.getImageData(0, 0, canvas.width, canvas.height);
  const px = image.data;
  for (let i = 0; i < px.length; i += 4) {
    const a = px[i + 3];
    if (!a) continue;
    px[i] = PALETTE[a * 3];
    px[i + 1] = PALETTE[a * 3 + 1];
    px[i + 2] = PALETTE[a * 3 + 2];
    px[i + 3] = Math.min(210, 60 + a);
  }
  ctx.putImageData(image, 0, 0);
  return points.length;
}

/** Bands of the page [{share, label}] shaded top to bottom over the canvas's height. */
export function drawBands(canvas, bands) {
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const height = canvas.height / bands.length;
  ctx.font = '600 13px system-ui, sans-serif';
  bands.forEach((band, i) => {
    const top = Math.round(i * height);
    ctx.fillStyle = colour(band.share, 0.42);
    ctx.fillRect(0, top, canvas.width, Math.ceil(height));
    ctx.fillStyle = 'rgba(20, 24, 36, 0.85)';
    ctx.fillRect(4, top + 4, ctx.measureText(band.label).width + 12, 20);
    ctx.fillStyle = '#fff';
    ctx.fillText(band.label, 10, top + 19);
  });
  return bands.length;
}

/** Outlines of the elements found on the page, with their click counts. */
export function drawOutlines(canvas, boxes) {
  const ctx = canvas.getContext('2d');
  ctx.font = '600 12px system-ui, sans-serif';
  for (const box of boxes) {
    ctx.strokeStyle = 'rgba(201, 42, 42, 0.9)';
    ctx.lineWidth = 1.5;
    ctx.strokeRect(box.left, box.top, box.width, box.height);
    const label = String(box.clicks);
    const w = ctx.measureText(label).width + 8;
    ctx.fillStyle = 'rgba(201, 42, 42, 0.95)';
    ctx.fillRect(box.left + box.width - w, box.top - 16 < 0 ? box.top : box.top - 16, w, 16);
    ctx.fillStyle = '#fff';
    ctx.fillText(label, box.left + box.width - w + 4, (box.top - 16 < 0 ? box.top : box.top - 16) + 12);
  }
}

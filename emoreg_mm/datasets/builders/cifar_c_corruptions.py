"""The 19 CIFAR-C corruptions with the CIFAR-specific constants.

Each function takes one RGB image (H, W, 3) uint8 (32 x 32 for CIFAR), a
severity 1 to 5 and a ``numpy.random.Generator``, and returns the corrupted
image as uint8 (float results truncated, as the published generator's
``np.uint8`` does). The constants of each corruption are those of the
published CIFAR generator (hendrycks/robustness,
``ImageNet-C/create_c/make_cifar_c.py``), one table per corruption; the
code is this project's.

Where the published generator differs from what is here:

- ``motion_blur`` and snow's motion-blurred layer: the generator calls
  ImageMagick's ``MotionBlurImage`` (through Wand). Here the same kernel is
  built with numpy: one-sided, ``2 ceil(radius) + 1`` taps with Gaussian
  weights ``exp(-i^2 / (2 sigma^2))`` along the angle, offsets rounded to
  whole pixels, edges repeated (ImageMagick's default virtual pixels).
- ``frost``: the generator blends crops of six frost photographs
  (``frost1.png`` ... of that repository, the first five drawn) scaled by
  0.2. They are not shipped here: a synthetic texture (a plasma fractal)
  takes their place, with the mean colour and the spread within a 32 px
  crop of each of the five photographs at that scale (:data:`FROST_LOOKS`).
- every random draw comes from the generator passed in, not numpy's
  global state: the images differ from the official files draw by draw,
  not in distribution.
"""
import io

import numpy as np

#: The corruptions, in the order of the published generator.
NAMES = ('gaussian_noise', 'shot_noise', 'impulse_noise', 'defocus_blur',
         'glass_blur', 'motion_blur', 'zoom_blur', 'snow', 'frost', 'fog',
         'brightness', 'contrast', 'elastic_transform', 'pixelate',
         'jpeg_compression', 'speckle_noise', 'gaussian_blur', 'spatter',
         'saturate')


def _float(x):
    return np.asarray(x, dtype=np.float64) / 255.


def _to_uint8(x):
    """[0, 1] floats to uint8, clipped and truncated."""
    return (np.clip(x, 0, 1) * 255).astype(np.uint8)


def _gaussian(x, sigma, mode='nearest', truncate=4.0):
    """scikit-image's ``gaussian`` (channels last, not across them)."""
    from scipy.ndimage import gaussian_filter
    sigmas = (sigma, sigma) + (0, ) * (x.ndim - 2)
    return gaussian_filter(x, sigmas, mode=mode, truncate=truncate)


def plasma(size, decay, rng):
    """A ``size`` x ``size`` diamond-square height map (wrapping), in
    [0, 1]; ``size`` a power of two. Each level's random offsets shrink by
    ``decay``."""
    assert size & (size - 1) == 0, 'size must be a power of two'
    grid = np.zeros((size, size))
    step, wibble = size, 100.

    def jitter(total):
        return total / 4 + wibble * rng.uniform(-wibble, wibble, total.shape)

    while step >= 2:
        half = step // 2
        corners = grid[0::step, 0::step]
        square = corners + np.roll(corners, -1, axis=0)
        square = square + np.roll(square, -1, axis=1)
        grid[half::step, half::step] = jitter(square)
        centres = grid[half::step, half::step]
        grid[0::step, half::step] = jitter(
            centres + np.roll(centres, 1, axis=0) + corners +
            np.roll(corners, -1, axis=1))
        grid[half::step, 0::step] = jitter(
            centres + np.roll(centres, 1, axis=1) + corners +
            np.roll(corners, -1, axis=0))
        step //= 2
        wibble /= decay
    grid -= grid.min()
    return grid / grid.max()


def clipped_zoom(x, factor):
    """Zoom the centre of ``x`` (H, W[, C]) by ``factor`` (linear), cut
    back to H x W."""
    from scipy.ndimage import zoom
    h = x.shape[0]
    crop = int(np.ceil(h / factor))
    top = (h - crop) // 2
    out = zoom(x[top:top + crop, top:top + crop],
               (factor, factor) + (1, ) * (x.ndim - 2), order=1)
    trim = (out.shape[0] - h) // 2
    return out[trim:trim + h, trim:trim + h]


def motion_kernel_blur(x, radius, sigma, angle):
    """ImageMagick's ``MotionBlurImage`` in numpy: ``x`` (H, W[, C]) float
    averaged with itself shifted 0 .. 2 ceil(radius) pixels along
    ``angle`` (degrees), Gaussian weights in the distance, edges
    repeated."""
    width = 2 * int(np.ceil(radius)) + 1
    taps = np.arange(width)
    weights = np.exp(-taps ** 2 / (2. * sigma ** 2))
    weights /= weights.sum()
    theta = np.deg2rad(angle)
    h, w = x.shape[:2]
    rows, cols = np.arange(h)[:, None], np.arange(w)[None, :]
    out = np.zeros(x.shape, np.float64)
    for i, weight in zip(taps, weights):
        dx = int(np.floor(i * np.cos(theta) + .5))
        dy = int(np.floor(-i * np.sin(theta) + .5))
        out += weight * x[np.clip(rows + dy, 0, h - 1),
                          np.clip(cols + dx, 0, w - 1)]
    return out


# ------------------------------------------------------------------ noise
#: make_cifar_c.py gaussian_noise: the noise's standard deviation.
GAUSSIAN_NOISE = (0.04, 0.06, 0.08, 0.09, 0.10)


def gaussian_noise(x, severity, rng):
    x = _float(x)
    c = GAUSSIAN_NOISE[severity - 1]
    return _to_uint8(x + rng.normal(scale=c, size=x.shape))


#: make_cifar_c.py shot_noise: photons per unit intensity.
SHOT_NOISE = (500, 250, 100, 75, 50)


def shot_noise(x, severity, rng):
    c = SHOT_NOISE[severity - 1]
    return _to_uint8(rng.poisson(_float(x) * c) / c)


#: make_cifar_c.py impulse_noise: the share of values set to 0 or 1 (salt
#: and pepper, half each, per channel value).
IMPULSE_NOISE = (0.01, 0.02, 0.03, 0.05, 0.07)


def impulse_noise(x, severity, rng):
    x = _float(x)
    hit = rng.random(x.shape) < IMPULSE_NOISE[severity - 1]
    salt = rng.random(x.shape) < .5
    x[hit & salt], x[hit & ~salt] = 1., 0.
    return _to_uint8(x)


#: make_cifar_c.py speckle_noise: the multiplicative noise's deviation.
SPECKLE_NOISE = (0.06, 0.1, 0.12, 0.16, 0.2)


def speckle_noise(x, severity, rng):
    x = _float(x)
    c = SPECKLE_NOISE[severity - 1]
    return _to_uint8(x + x * rng.normal(scale=c, size=x.shape))


# ------------------------------------------------------------------- blur
#: make_cifar_c.py gaussian_blur: sigma in pixels.
GAUSSIAN_BLUR = (0.4, 0.6, 0.7, 0.8, 1.0)


def gaussian_blur(x, severity, rng):
    return _to_uint8(_gaussian(_float(x), GAUSSIAN_BLUR[severity - 1]))


#: make_cifar_c.py glass_blur: (sigma, largest shift, passes).
GLASS_BLUR = ((0.05, 1, 1), (0.25, 1, 1), (0.4, 1, 1), (0.25, 1, 2),
              (0.4, 1, 2))


def glass_blur(x, severity, rng):
    sigma, delta, passes = GLASS_BLUR[severity - 1]
    x = _to_uint8(_gaussian(_float(x), sigma))
    h, w = x.shape[:2]
    # the generator's "swap" (a tuple assignment of numpy views) copies
    # the neighbour into the pixel and leaves the neighbour as it is
    for _ in range(passes):
        for row in range(h - delta, delta, -1):
            for col in range(w - delta, delta, -1):
                dx, dy = rng.integers(-delta, delta, size=2)
                x[row, col] = x[row + dy, col + dx]
    return _to_uint8(_gaussian(_float(x), sigma))


#: make_cifar_c.py defocus_blur: (disk radius, anti-alias sigma).
DEFOCUS_BLUR = ((0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1))


def disk_kernel(radius, alias_blur):
    """A disk of ``radius`` on a 17 x 17 grid (radius <= 8), smoothed by a
    3 x 3 Gaussian of ``alias_blur``."""
    import cv2
    half = max(8, int(np.ceil(radius)))
    grid = np.arange(-half, half + 1)
    xx, yy = np.meshgrid(grid, grid)
    disk = (xx ** 2 + yy ** 2 <= radius ** 2).astype(np.float32)
    disk /= disk.sum()
    ksize = (3, 3) if radius <= 8 else (5, 5)
    return cv2.GaussianBlur(disk, ksize=ksize, sigmaX=alias_blur)


def defocus_blur(x, severity, rng):
    import cv2
    kernel = disk_kernel(*DEFOCUS_BLUR[severity - 1])
    x = _float(x)
    return _to_uint8(np.stack([cv2.filter2D(x[..., d], -1, kernel)
                               for d in range(x.shape[2])], axis=-1))


#: make_cifar_c.py motion_blur: ImageMagick (radius, sigma); the angle is
#: drawn uniformly in [-45, 45] degrees.
MOTION_BLUR = ((6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5))


def motion_blur(x, severity, rng):
    radius, sigma = MOTION_BLUR[severity - 1]
    out = motion_kernel_blur(np.asarray(x, np.float64), radius, sigma,
                             rng.uniform(-45, 45))
    # ImageMagick rounds to 8 bits (the generator reads a PNG back)
    return np.clip(np.floor(out + .5), 0, 255).astype(np.uint8)


#: make_cifar_c.py zoom_blur: np.arange(start, stop, step) of zoom factors.
ZOOM_BLUR = ((1, 1.06, 0.01), (1, 1.11, 0.01), (1, 1.16, 0.01),
             (1, 1.21, 0.01), (1, 1.26, 0.01))


def zoom_blur(x, severity, rng):
    x = _float(x).astype(np.float32)
    factors = np.arange(*ZOOM_BLUR[severity - 1])
    out = np.zeros_like(x)
    for factor in factors:
        out += clipped_zoom(x, factor)
    return _to_uint8((x + out) / (len(factors) + 1))


# ---------------------------------------------------------------- weather
#: make_cifar_c.py snow: (layer mean, layer deviation, zoom, threshold,
#: blur radius, blur sigma, image weight).
SNOW = ((0.1, 0.2, 1, 0.6, 8, 3, 0.95), (0.1, 0.2, 1, 0.5, 10, 4, 0.9),
        (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9),
        (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85),
        (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8))


def snow(x, severity, rng):
    import cv2
    mean, dev, zoom, threshold, radius, sigma, keep = SNOW[severity - 1]
    x = _float(x).astype(np.float32)
    layer = rng.normal(loc=mean, scale=dev, size=x.shape[:2])
    layer = clipped_zoom(layer[..., None], zoom)[..., 0]
    layer[layer < threshold] = 0
    layer = np.floor(np.clip(layer, 0, 1) * 255)  # an 8-bit image
    layer = motion_kernel_blur(layer, radius, sigma, rng.uniform(-135, -45))
    layer = np.clip(np.floor(layer + .5), 0, 255)[..., None] / 255.
    grey = cv2.cvtColor(x, cv2.COLOR_RGB2GRAY)[..., None]
    x = keep * x + (1 - keep) * np.maximum(x, grey * 1.5 + 0.5)
    return _to_uint8(x + layer + np.rot90(layer, k=2))


#: make_cifar_c.py frost: (image weight, frost weight).
FROST = ((1, 0.2), (1, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45))
#: The frost photographs the generator draws from (frost1.png to
#: frost5.jpg of hendrycks/robustness at its 0.2 scale), as (mean RGB,
#: standard deviation within a 32 px crop, RGB), measured on 200 random
#: crops of each: what the synthetic texture matches.
FROST_LOOKS = (((76.9, 148.2, 164.7), (21.4, 13.1, 12.6)),
               ((198.1, 202.5, 211.8), (17.7, 18.1, 18.6)),
               ((198.1, 202.5, 211.8), (17.7, 18.1, 18.6)),
               ((142.7, 157.4, 170.1), (25.6, 25.6, 26.6)),
               ((102.4, 113.8, 125.5), (35.0, 34.6, 33.9)))
#: The synthetic texture's plasma decay (a rough, crystal-like map).
FROST_DECAY = 1.5


def frost_texture(shape, rng):
    """A synthetic frost crop (H, W, 3) in [0, 255]: a plasma fractal
    with the colour and spread of one of :data:`FROST_LOOKS`."""
    mean, std = (np.array(v) for v in
                 FROST_LOOKS[rng.integers(len(FROST_LOOKS))])
    size = 1 << int(np.ceil(np.log2(max(shape[:2]))))
    field = plasma(size, FROST_DECAY, rng)[:shape[0], :shape[1]]
    field = (field - field.mean()) / (field.std() + 1e-12)
    return np.clip(mean + field[..., None] * std, 0, 255)


def frost(x, severity, rng):
    image_weight, frost_weight = FROST[severity - 1]
    x = np.asarray(x, np.float64)
    out = image_weight * x + frost_weight * frost_texture(x.shape, rng)
    return np.clip(out, 0, 255).astype(np.uint8)


#: make_cifar_c.py fog: (fog strength, plasma decay); a 32 px plasma map.
FOG = ((0.2, 3), (0.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75))
FOG_MAP_SIZE = 32


def fog(x, severity, rng):
    strength, decay = FOG[severity - 1]
    x = _float(x)
    top = x.max()
    h, w = x.shape[:2]
    size = max(FOG_MAP_SIZE, 1 << int(np.ceil(np.log2(max(h, w)))))
    x = x + strength * plasma(size, decay, rng)[:h, :w, None]
    return _to_uint8(x * top / (top + strength))


#: make_cifar_c.py spatter: (layer mean, layer deviation, layer blur,
#: threshold, strength, mud: 0 water, 1 mud).
SPATTER = ((0.62, 0.1, 0.7, 0.7, 0.5, 0), (0.65, 0.1, 0.8, 0.7, 0.5, 0),
           (0.65, 0.3, 1, 0.69, 0.5, 0), (0.65, 0.1, 0.7, 0.69, 0.6, 1),
           (0.65, 0.1, 0.5, 0.68, 0.6, 1))
WATER_RGB = (175, 238, 238)  # pale turquoise
MUD_RGB = (63, 42, 20)  # brown


def spatter(x, severity, rng):
    import cv2
    mean, dev, blur, threshold, strength, mud = SPATTER[severity - 1]
    x = _float(x).astype(np.float32)
    liquid = _gaussian(rng.normal(loc=mean, scale=dev, size=x.shape[:2]),
                       blur)
    liquid[liquid < threshold] = 0
    if not mud:
        # 8 bits wrapping above 1, as the generator's astype(np.uint8)
        level = ((liquid * 255).astype(np.int64) % 256).astype(np.uint8)
        dist = 255 - cv2.Canny(level, 50, 150)
        dist = cv2.distanceTransform(dist, cv2.DIST_L2, 5)
        _, dist = cv2.threshold(dist, 20, 20, cv2.THRESH_TRUNC)
        dist = cv2.equalizeHist(cv2.blur(dist, (3, 3)).astype(np.uint8))
        emboss = np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]])
        dist = cv2.filter2D(dist, cv2.CV_8U, emboss)
        dist = cv2.blur(dist, (3, 3)).astype(np.float32)
        m = (liquid * dist)[..., None]
        top = m.max()
        m = m / top * strength if top > 0 else m * 0
        colour = np.array(WATER_RGB, np.float32) / 255.
        return _to_uint8(x + m * colour)
    m = _gaussian((liquid > threshold).astype(np.float32), strength)
    m[m < 0.8] = 0
    colour = np.array(MUD_RGB, np.float32) / 255.
    return _to_uint8(x * (1 - m[..., None]) + colour * m[..., None])


# ---------------------------------------------------------------- digital
#: make_cifar_c.py contrast: the factor on each channel's deviation from
#: its mean.
CONTRAST = (0.75, 0.5, 0.4, 0.3, 0.15)


def contrast(x, severity, rng):
    x = _float(x)
    means = x.mean(axis=(0, 1), keepdims=True)
    return _to_uint8((x - means) * CONTRAST[severity - 1] + means)


#: make_cifar_c.py brightness: added to HSV value.
BRIGHTNESS = (0.05, 0.1, 0.15, 0.2, 0.3)


def brightness(x, severity, rng):
    from skimage.color import hsv2rgb, rgb2hsv
    hsv = rgb2hsv(_float(x))
    hsv[..., 2] = np.clip(hsv[..., 2] + BRIGHTNESS[severity - 1], 0, 1)
    return _to_uint8(hsv2rgb(hsv))


#: make_cifar_c.py saturate: HSV saturation * factor + offset.
SATURATE = ((0.3, 0), (0.1, 0), (1.5, 0), (2, 0.1), (2.5, 0.2))


def saturate(x, severity, rng):
    from skimage.color import hsv2rgb, rgb2hsv
    factor, offset = SATURATE[severity - 1]
    hsv = rgb2hsv(_float(x))
    hsv[..., 1] = np.clip(hsv[..., 1] * factor + offset, 0, 1)
    return _to_uint8(hsv2rgb(hsv))


#: make_cifar_c.py jpeg_compression: PIL's JPEG quality.
JPEG_QUALITY = (80, 65, 58, 50, 40)


def jpeg_compression(x, severity, rng):
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(np.asarray(x, np.uint8)).save(
        buf, 'JPEG', quality=JPEG_QUALITY[severity - 1])
    return np.asarray(Image.open(buf).convert('RGB'), np.uint8)


#: make_cifar_c.py pixelate: the side scale (32 -> int(32 c), box filter,
#: and back).
PIXELATE = (0.95, 0.9, 0.85, 0.75, 0.65)


def pixelate(x, severity, rng):
    from PIL import Image
    image = Image.fromarray(np.asarray(x, np.uint8))
    w, h = image.size
    c = PIXELATE[severity - 1]
    small = image.resize((int(w * c), int(h * c)), Image.BOX)
    return np.asarray(small.resize((w, h), Image.BOX), np.uint8)


#: make_cifar_c.py elastic_transform, in units of the 32 px side:
#: (displacement scale, displacement smoothness, affine jitter).
ELASTIC = ((0, 0, 0.08), (0.05, 0.2, 0.07), (0.08, 0.06, 0.06),
           (0.1, 0.04, 0.05), (0.1, 0.03, 0.03))
ELASTIC_SIDE = 32


def elastic_transform(x, severity, rng):
    import cv2
    from scipy.ndimage import map_coordinates
    alpha, sigma, jitter = (ELASTIC_SIDE * v for v in ELASTIC[severity - 1])
    x = _float(x).astype(np.float32)
    h, w, ch = x.shape
    centre = np.float32((h, w)) // 2
    side = min(h, w) // 3
    src = np.float32([centre + side, [centre[0] + side, centre[1] - side],
                      centre - side])
    dst = src + rng.uniform(-jitter, jitter, size=src.shape).astype(
        np.float32)
    x = cv2.warpAffine(x, cv2.getAffineTransform(src, dst), (w, h),
                       borderMode=cv2.BORDER_REFLECT_101)

    def field():
        noise = rng.uniform(-1, 1, size=(h, w))
        return (_gaussian(noise, sigma, mode='reflect', truncate=3) *
                alpha).astype(np.float32)[..., None]

    dx, dy = field(), field()
    cols, rows, chans = np.meshgrid(np.arange(w), np.arange(h),
                                    np.arange(ch))
    coords = ((rows + dy).reshape(-1), (cols + dx).reshape(-1),
              chans.reshape(-1))
    out = map_coordinates(x, coords, order=1, mode='reflect')
    return _to_uint8(out.reshape(x.shape))


CORRUPTIONS = {name: globals()[name] for name in NAMES}


def corrupt(image, corruption, severity, rng):
    """``image`` (H, W, 3) uint8 under ``corruption`` at ``severity``
    (1 to 5), the draws from ``rng``; uint8 of the same shape."""
    out = CORRUPTIONS[corruption](image, severity, rng)
    return np.asarray(out, np.uint8).reshape(np.shape(image))

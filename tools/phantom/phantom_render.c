/* phantom_render.c: renders one view (CC or MLO of one breast) of a drawn study.
 *
 * Intensity model (MONOCHROME2, 0..1 before quantisation; a processed "for presentation"
 * image): air is dark; inside the outline the value rises over the last ~8 mm to the
 * skin (compressed thickness), a thin brighter skin line marks the edge; fat is mid-grey;
 * fibroglandular tissue, brighter, comes from value noise (isotropic octaves plus streaks
 * radiating from the nipple) thresholded so that its share sets the BI-RADS density and
 * kept in the central breast; the pectoral muscle (MLO) is a bright band in the upper
 * chest-wall corner. Findings are added on top: masses (dome profile, sharp, blurred or
 * spiculated edge), calcification specks (Gaussian, energy-preserving, so they fade out
 * when the image is small), spiculated distortion without a core, and a broad focal
 * asymmetry. Quantum noise last.
 *
 * Speed: the tissue texture is evaluated on a grid about 0.6 mm apart and bilinearly
 * interpolated; the per-pixel work is a few multiplications, one square root and a hash.
 * The image is built in the canonical frame (chest wall left) and mirrored for the right
 * breast when quantised. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tools/phantom/phantom.h"

#define BG_LEVEL 0.03f
#define FAT_LEVEL 0.30f
#define GLAND_GAIN 0.36f
#define PECT_LEVEL 0.56f
#define SKIN_BAND_MM 8.0
#define NOISE_SIGMA 0.006f
#define NOISE_TABLE 65536 /* unit Gaussian-like samples, read at a random offset per row */

static const double density_threshold[5] = {0, 0.60, 0.53, 0.46, 0.39};

static inline float lattice(int ix, int iy, uint32_t seed) {
    uint32_t h = ph_hash32((uint32_t)ix * 0x9E3779B1U ^ ph_hash32((uint32_t)iy + seed));
    return (float)(h >> 8) * (1.0f / 16777216.0f);
}

/* Value noise in [0, 1) with smooth interpolation. */
static float value_noise(double x, double y, uint32_t seed) {
    double fx = floor(x), fy = floor(y);
    int ix = (int)fx, iy = (int)fy;
    float tx = (float)(x - fx), ty = (float)(y - fy);
    tx = tx * tx * (3 - 2 * tx);
    ty = ty * ty * (3 - 2 * ty);
    float a = lattice(ix, iy, seed), b = lattice(ix + 1, iy, seed);
    float c = lattice(ix, iy + 1, seed), d = lattice(ix + 1, iy + 1, seed);
    float top = a + (b - a) * tx, bot = c + (d - c) * tx;
    return top + (bot - top) * ty;
}

static float smoothstepf(float e0, float e1, float x) {
    float t = (x - e0) / (e1 - e0);
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    return t * t * (3 - 2 * t);
}

typedef struct frame {
    int rows, cols;
    double s;       /* mm per pixel */
    float *img;     /* rows x cols, canonical frame */
    float *coarse;  /* gland field on the coarse grid */
    float *noise;   /* NOISE_TABLE samples */
    int cf, cw, ch; /* coarse factor and size */
} frame;

size_t ph_render_work_size(int rows, int cols) {
    double s = PH_DETECTOR_WIDTH_MM / cols;
    int cf = (int)lround(0.6 / s);
    if (cf < 1) cf = 1;
    size_t cw = (size_t)cols / cf + 3, ch = (size_t)rows / cf + 3;
    return ((size_t)rows * cols + cw * ch + NOISE_TABLE) * sizeof(float);
}

/* Fibroglandular share at (x, y) mm, 0..1. */
static float gland_at(const ph_study *st, const ph_breast *b, int mlo, double x, double y, uint32_t tex_seed) {
    double e = ph_breast_e(b, mlo, x, y);
    if (e > 1.02) return 0;
    double a = mlo ? b->depth_mlo_mm : b->depth_cc_mm;
    double yn = mlo ? b->nipple_y_mlo : b->nipple_y_cc;
    /* lobular clouds (low frequencies) with ducts and ligaments running to the nipple */
    float iso = 0.45f * value_noise(x / 14.0, y / 14.0, tex_seed) + 0.3f * value_noise(x / 6.0, y / 6.0, tex_seed + 1) +
                0.15f * value_noise(x / 2.6, y / 2.6, tex_seed + 2) + 0.10f * value_noise(x / 1.2, y / 1.2, tex_seed + 5);
    double dx = a - x, dy = y - yn;
    double r = sqrt(dx * dx + dy * dy), th = atan2(dy, dx + 1e-9);
    float streak = 0.7f * value_noise(r / 14.0, th * 28.0, tex_seed + 3) + 0.3f * value_noise(r / 5.0, th * 90.0, tex_seed + 4);
    float n = 0.7f * iso + 0.3f * streak;
    /* tissue sits behind the nipple, with a rim of subcutaneous and retromammary fat */
    float env = smoothstepf(0.97f, 0.6f, (float)e) * smoothstepf(0.02f, 0.3f, (float)(x / a));
    if (mlo) {
        double px = ph_pect_x(b, y);
        env *= smoothstepf((float)px, (float)px + 15.0f, (float)x);
    }
    float thr = (float)density_threshold[st->density];
    float g = smoothstepf(thr - 0.09f, thr + 0.09f, n) * (0.72f + 0.5f * value_noise(x / 1.8, y / 1.8, tex_seed + 6));
    /* denser breasts: also a general haze of tissue */
    float haze = 0.10f * (float)(st->density - 1);
    return env * (g + haze * (1 - g));
}

static void add_asymmetry(frame *fr, const ph_finding *f, double cx, double cy, uint32_t seed) {
    /* on the coarse grid: a broad patch of extra tissue */
    double R = f->size_mm / fr->s;
    double ca = cos(f->orient), sa = sin(f->orient);
    for (int i = 0; i < fr->ch; i++) {
        double py = (double)i * fr->cf;
        if (fabs(py - cy) > 1.6 * R) continue;
        for (int j = 0; j < fr->cw; j++) {
            double px = (double)j * fr->cf;
            double u = (px - cx) * ca + (py - cy) * sa, v = (-(px - cx) * sa + (py - cy) * ca) / 0.6;
            double q = (u * u + v * v) / (R * R);
            if (q > 2.6) continue;
            float n = value_noise(px * fr->s / 2.5, py * fr->s / 2.5, seed);
            fr->coarse[(size_t)i * fr->cw + j] += (float)(f->contrast / GLAND_GAIN * exp(-q) * (0.5 + n));
        }
    }
}

static void build_coarse(frame *fr, const ph_study *st, const ph_breast *b, int mlo, uint32_t tex_seed) {
    for (int i = 0; i < fr->ch; i++) {
        double y = (double)i * fr->cf * fr->s;
        for (int j = 0; j < fr->cw; j++) {
            double x = (double)j * fr->cf * fr->s;
            fr->coarse[(size_t)i * fr->cw + j] = gland_at(st, b, mlo, x, y, tex_seed);
        }
    }
}

static void build_tissue(frame *fr, const ph_study *st, const ph_breast *b, const ph_view *v) {
    const int mlo = v->mlo;
    const float s = (float)fr->s;
    const float a = (float)(mlo ? b->depth_mlo_mm : b->depth_cc_mm);
    const uint32_t outline_seed = (uint32_t)ph_hash3(st->seed, (uint64_t)st->index, 200 + v->side * 2 + v->mlo);
    const float yn = (float)(mlo ? b->nipple_y_mlo : b->nipple_y_cc);
    const float nip_r = 4.0f;
    const float inv_cf = 1.0f / (float)fr->cf;
    const int implant = st->implant;
    const uint32_t nseed = (uint32_t)mama_rng_mix64(v->noise_seed);
    /* fatty hard case: darker fat, a much brighter pectoral (Otsu then splits fat from
     * muscle, not breast from air) */
    const int fatty = (v->hard & PH_HARD_FATTY) != 0;
    const float fat_level = fatty ? 0.27f : FAT_LEVEL, pect_level = fatty ? 0.86f : PECT_LEVEL;
    for (int i = 0; i < fr->rows; i++) {
        const float y = ((float)i + 0.5f) * s;
        const float h = (float)(mlo ? (y < yn ? b->up_mlo_mm : b->down_mlo_mm) : b->half_cc_mm);
        const float vv = (y - yn) / h, v2 = vv * vv, vh = vv / h, vh2 = vh * vh;
        /* a slightly irregular outline: the depth wobbles by a few per cent from row to
         * row (smoothly, over centimetres), except at the nipple */
        const float wobble = 0.035f * (2.0f * value_noise(y / 28.0, 0.5, outline_seed) - 1.0f) +
                             0.015f * (2.0f * value_noise(y / 9.0, 0.5, outline_seed + 1) - 1.0f);
        const float inv_a = 1.0f / (a * (1.0f + wobble * smoothstepf(3.0f, 25.0f, fabsf(y - yn))));
        const float inv_a2 = inv_a * inv_a;
        const float pect = mlo ? (float)ph_pect_x(b, y) : -1e9f;
        const float ndy = y - yn, ndy2 = ndy * ndy;
        const int nip_row = ndy2 < nip_r * nip_r;
        float *row = fr->img + (size_t)i * fr->cols;
        const float ci = (float)i * inv_cf;
        const int i0 = (int)ci;
        const float ty = ci - (float)i0;
        const float *c0 = fr->coarse + (size_t)i0 * fr->cw, *c1 = c0 + fr->cw;
        const float *nrow = fr->noise;
        const uint32_t noff = ph_hash32(nseed ^ ((uint32_t)i * 0x9E3779B1U));
        /* past the outline (and the nipple) only air: no per-pixel geometry there */
        float x_end = v2 < 1.0f ? sqrtf(1.0f - v2) / inv_a : 0.0f;
        if (nip_row && x_end < a + nip_r) x_end = a + nip_r;
        int j_end = (int)(x_end / s) + 2;
        if (j_end > fr->cols) j_end = fr->cols;
        for (int j = j_end; j < fr->cols; j++) row[j] = BG_LEVEL + 0.5f * NOISE_SIGMA * nrow[(j + noff) & (NOISE_TABLE - 1)];
        uint8_t *mrow = v->mask ? v->mask + (size_t)i * fr->cols : NULL;
        if (mrow) memset(mrow, PH_MASK_AIR, (size_t)fr->cols);
        for (int j = 0; j < j_end; j++) {
            const float x = ((float)j + 0.5f) * s;
            const float u = x * inv_a, u2 = u * u, e2 = u2 + v2;
            const float noise = nrow[(j + noff) & (NOISE_TABLE - 1)];
            float d = -1; /* distance to the skin, mm */
            if (e2 < 1.0f) {
                const float e = sqrtf(e2), g2 = u2 * inv_a2 + vh2;
                d = e > 1e-4f ? (1.0f - e) * e / sqrtf(g2) : 1e9f;
            }
            int nipple = 0;
            if (nip_row && fabsf(x - a) < nip_r) {
                const float ndx = x - a, nd2 = ndx * ndx + ndy2;
                if (nd2 < nip_r * nip_r) {
                    nipple = 1;
                    const float dn = nip_r - sqrtf(nd2);
                    if (dn > d) d = dn;
                }
            }
            if (d < 0) {
                row[j] = BG_LEVEL + 0.5f * NOISE_SIGMA * noise;
                continue;
            }
            if (mrow) mrow[j] = x < pect ? PH_MASK_PECTORAL : PH_MASK_BREAST;
            const float cj = (float)j * inv_cf;
            const int j0 = (int)cj;
            const float tx = cj - (float)j0;
            const float top = c0[j0] + (c0[j0 + 1] - c0[j0]) * tx, bot = c1[j0] + (c1[j0 + 1] - c1[j0]) * tx;
            const float gl = top + (bot - top) * ty;
            float tissue = fat_level + GLAND_GAIN * gl;
            if (nipple) tissue += 0.06f;
            if (x < pect + 3.0f) {
                const float w = smoothstepf(pect + 1.5f, pect - 1.5f, x);
                tissue = tissue * (1 - w) + (pect_level + 0.08f * gl + 0.04f * (x - pect) / (pect + 1.0f)) * w;
            }
            if (implant) {
                /* silicone: a smooth, nearly white dome against the chest wall that hides
                 * the tissue behind it; pushed back out of the field (implant displaced)
                 * only a sliver at the chest wall remains */
                const float cx = v->implant_displaced ? -0.30f * a : 0.12f * a;
                const float iu = (x - cx) / (0.42f * a), iv = (y - yn) / (0.5f * h);
                const float q = iu * iu + iv * iv;
                if (q < 1.1f) {
                    const float w = smoothstepf(1.0f, 0.93f, q);
                    tissue = tissue * (1 - w) + (0.90f - 0.04f * q) * w;
                }
            }
            float t = d * (float)(1.0 / SKIN_BAND_MM);
            t = t > 1 ? 1 : sqrtf(t);
            float val = BG_LEVEL + t * (tissue - BG_LEVEL);
            if (d < 1.5f) {
                const float sk = d * 2.0f;
                val += 0.07f * expf(-sk * sk);
            }
            row[j] = val + NOISE_SIGMA * (0.6f + val) * noise;
        }
    }
}

/* Adds amp * gaussian(sigma px) at (cx, cy); specks below half a pixel keep their energy. */
static void add_speck(frame *fr, double cx, double cy, double sigma, double amp) {
    if (sigma < 0.5) {
        amp *= (sigma / 0.5) * (sigma / 0.5);
        sigma = 0.5;
    }
    int rad = (int)ceil(3 * sigma);
    int x0 = (int)floor(cx) - rad, x1 = (int)floor(cx) + rad, y0 = (int)floor(cy) - rad, y1 = (int)floor(cy) + rad;
    double k = 1.0 / (2 * sigma * sigma);
    for (int y = y0 < 0 ? 0 : y0; y <= y1 && y < fr->rows; y++)
        for (int x = x0 < 0 ? 0 : x0; x <= x1 && x < fr->cols; x++) {
            double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
            fr->img[(size_t)y * fr->cols + x] += (float)(amp * exp(-(dx * dx + dy * dy) * k));
        }
}

typedef struct spicule {
    double dx, dy, len, width, amp;
} spicule;

static int make_spicules(mama_rng *r, spicule *sp, int max, double R, double s, double amp, double lmin, double lmax) {
    int n = 10 + (int)ph_rng_range(r, 0, max - 10);
    for (int i = 0; i < n; i++) {
        double th = ph_rng_range(r, 0, 6.283185307179586);
        sp[i].dx = cos(th);
        sp[i].dy = sin(th);
        sp[i].len = R * ph_rng_range(r, lmin, lmax);
        sp[i].width = fmax(ph_rng_range(r, 0.25, 0.5) / s, 0.6);
        sp[i].amp = amp * ph_rng_range(r, 0.5, 0.9);
    }
    return n;
}

static double spicule_sum(const spicule *sp, int n, double dx, double dy, double inner) {
    double sum = 0;
    for (int k = 0; k < n; k++) {
        double along = dx * sp[k].dx + dy * sp[k].dy;
        if (along < inner || along > sp[k].len) continue;
        double perp = dx * sp[k].dy - dy * sp[k].dx;
        double q = perp / sp[k].width;
        if (q * q > 9) continue;
        sum += sp[k].amp * (1 - along / sp[k].len) * exp(-q * q);
    }
    return sum;
}

static void add_mass(frame *fr, const ph_finding *f, double cx, double cy) {
    mama_rng r;
    ph_rng_seed(&r, f->seed, 1, 0);
    const double s = fr->s, R = f->size_mm / s;
    double harm_a[4] = {0}, harm_p[4] = {0};
    if (f->shape == PH_IRREGULAR)
        for (int k = 0; k < 4; k++) {
            harm_a[k] = ph_rng_range(&r, 0.05, 0.14);
            harm_p[k] = ph_rng_range(&r, 0, 6.283185307179586);
        }
    const double aspect = f->shape == PH_OVAL ? ph_rng_range(&r, 0.55, 0.72) : f->shape == PH_ROUND ? 0.95 : 0.85;
    spicule sp[24];
    int nsp = 0;
    if (f->margin == PH_SPICULATED) nsp = make_spicules(&r, sp, 24, R, s, f->contrast * 0.6, 1.6, 3.0);
    const double ca = cos(f->orient), sa = sin(f->orient);
    const double edge = (0.6 + 0.25 / s) / R; /* sharp edge width in units of R */
    const double ext = nsp ? 3.1 : f->margin == PH_INDISTINCT ? 2.0 : 1.6;
    int x0 = (int)(cx - ext * R) - 1, x1 = (int)(cx + ext * R) + 1, y0 = (int)(cy - ext * R) - 1,
        y1 = (int)(cy + ext * R) + 1;
    for (int y = y0 < 0 ? 0 : y0; y <= y1 && y < fr->rows; y++)
        for (int x = x0 < 0 ? 0 : x0; x <= x1 && x < fr->cols; x++) {
            double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
            double u = dx * ca + dy * sa, v = (-dx * sa + dy * ca) / aspect;
            double dist = sqrt(u * u + v * v);
            double rad = 1;
            if (f->shape == PH_IRREGULAR) {
                double th = atan2(v, u);
                for (int k = 0; k < 4; k++) rad += harm_a[k] * cos((k + 2) * th + harm_p[k]);
            }
            double rho = dist / (R * rad);
            double body = 1 - 0.35 * fmin(rho * rho, 1.0);
            double m;
            if (f->margin == PH_CIRCUMSCRIBED) {
                m = smoothstepf((float)(1 + edge), (float)(1 - edge), (float)rho);
            } else {
                double t = rho < 0.55 ? 0 : (rho - 0.55) / 0.35;
                m = exp(-t * t);
            }
            double val = f->contrast * body * m;
            if (nsp) val += spicule_sum(sp, nsp, dx, dy, 0.4 * R);
            if (val > 1e-5) fr->img[(size_t)y * fr->cols + x] += (float)val;
        }
}

static void add_distortion(frame *fr, const ph_finding *f, double cx, double cy) {
    mama_rng r;
    ph_rng_seed(&r, f->seed, 2, 0);
    const double R = f->size_mm / fr->s;
    spicule sp[28];
    int nsp = make_spicules(&r, sp, 28, R, fr->s, f->contrast, 0.6, 1.0);
    int x0 = (int)(cx - R) - 1, x1 = (int)(cx + R) + 1, y0 = (int)(cy - R) - 1, y1 = (int)(cy + R) + 1;
    for (int y = y0 < 0 ? 0 : y0; y <= y1 && y < fr->rows; y++)
        for (int x = x0 < 0 ? 0 : x0; x <= x1 && x < fr->cols; x++) {
            double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
            double val = spicule_sum(sp, nsp, dx, dy, 0.08 * R);
            double q = (dx * dx + dy * dy) / (0.15 * R * 0.15 * R);
            val -= 0.02 * exp(-q); /* slight central lucency */
            fr->img[(size_t)y * fr->cols + x] += (float)val;
        }
}

static void add_calcs(frame *fr, const ph_finding *f, double cx, double cy, double nipple_x, double nipple_y) {
    mama_rng r;
    ph_rng_seed(&r, f->seed, 3, 0);
    const double s = fr->s, R = f->size_mm / s;
    int n;
    double rmin, rmax, amp = f->contrast;
    switch (f->calc_morph) {
    case PH_CALC_PUNCTATE: n = 6 + (int)ph_rng_range(&r, 0, 10); rmin = 0.12; rmax = 0.25; break;
    case PH_CALC_ROUND: n = 4 + (int)ph_rng_range(&r, 0, 8); rmin = 0.3; rmax = 0.6; break;
    case PH_CALC_COARSE: n = 2 + (int)ph_rng_range(&r, 0, 4); rmin = 0.7; rmax = 1.4; break;
    case PH_CALC_AMORPHOUS: n = 12 + (int)ph_rng_range(&r, 0, 20); rmin = 0.05; rmax = 0.12; amp *= 0.6; break;
    case PH_CALC_COARSE_HETERO: n = 6 + (int)ph_rng_range(&r, 0, 10); rmin = 0.2; rmax = 0.45; break;
    case PH_CALC_FINE_PLEOMORPHIC: n = 8 + (int)ph_rng_range(&r, 0, 16); rmin = 0.06; rmax = 0.25; break;
    default: n = 6 + (int)ph_rng_range(&r, 0, 10); rmin = 0.06; rmax = 0.12; break;
    }
    if (f->calc_distri == PH_DISTRI_REGIONAL) n *= 2;
    double ndx = nipple_x - cx, ndy = nipple_y - cy, nl = sqrt(ndx * ndx + ndy * ndy);
    if (nl < 1e-9) {
        ndx = 1;
        ndy = 0;
        nl = 1;
    }
    ndx /= nl;
    ndy /= nl;
    const double lx = cos(f->orient), ly = sin(f->orient);
    for (int i = 0; i < n; i++) {
        double px, py;
        switch (f->calc_distri) {
        case PH_DISTRI_LINEAR: {
            double t = ph_rng_range(&r, -1, 1) * R, w = 0.08 * R * ph_rng_normal(&r);
            px = cx + t * lx - w * ly;
            py = cy + t * ly + w * lx;
            break;
        }
        case PH_DISTRI_SEGMENTAL: { /* a wedge opening away from the nipple */
            double t = ph_rng_range(&r, -1, 1) * R, spread = (t + R) / (2 * R) * 0.5 * R * ph_rng_normal(&r);
            px = cx - t * ndx - spread * ndy;
            py = cy - t * ndy + spread * ndx;
            break;
        }
        default: { /* grouped, regional: a disc */
            double rr = R * sqrt(mama_rng_uniform(&r)), th = ph_rng_range(&r, 0, 6.283185307179586);
            px = cx + rr * cos(th);
            py = cy + rr * sin(th);
            break;
        }
        }
        double rad = ph_rng_range(&r, rmin, rmax) / s, a = amp * ph_rng_range(&r, 0.7, 1.0);
        if (f->calc_morph == PH_CALC_FINE_LINEAR_BRANCHING) {
            /* a short rod of specks, sometimes branching */
            double th = ph_rng_range(&r, 0, 6.283185307179586), len = ph_rng_range(&r, 0.5, 2.0) / s;
            int steps = (int)(len / fmax(rad, 0.5)) + 1;
            for (int k = 0; k <= steps; k++) add_speck(fr, px + cos(th) * len * k / steps, py + sin(th) * len * k / steps, rad, a);
            if (mama_rng_uniform(&r) < 0.4) {
                double th2 = th + ph_rng_range(&r, 0.4, 0.9), ex = px + cos(th) * len, ey = py + sin(th) * len;
                for (int k = 0; k <= steps / 2; k++)
                    add_speck(fr, ex + cos(th2) * len * k / steps, ey + sin(th2) * len * k / steps, rad, a);
            }
        } else if (f->calc_morph == PH_CALC_FINE_PLEOMORPHIC || f->calc_morph == PH_CALC_COARSE_HETERO ||
                   f->calc_morph == PH_CALC_COARSE) {
            int parts = 2 + (int)ph_rng_range(&r, 0, 3);
            for (int k = 0; k < parts; k++)
                add_speck(fr, px + rad * ph_rng_normal(&r), py + rad * ph_rng_normal(&r), rad * ph_rng_range(&r, 0.5, 1.0), a);
        } else {
            add_speck(fr, px, py, rad, a);
        }
    }
}

int ph_render(const ph_study *st, const ph_view *v, uint16_t *out, void *work, ph_mark *marks) {
    if (v->rows < 16 || v->cols < 16 || v->bits < 8 || v->bits > 16 || (v->side != 0 && v->side != 1)) return -1;
    const ph_breast *b = &st->breast[v->side];
    frame fr;
    fr.rows = v->rows;
    fr.cols = v->cols;
    fr.s = PH_DETECTOR_WIDTH_MM / v->cols;
    fr.cf = (int)lround(0.6 / fr.s);
    if (fr.cf < 1) fr.cf = 1;
    fr.cw = v->cols / fr.cf + 3;
    fr.ch = v->rows / fr.cf + 3;
    fr.img = (float *)work;
    fr.coarse = fr.img + (size_t)v->rows * v->cols;
    fr.noise = fr.coarse + (size_t)fr.cw * fr.ch;
    {
        /* sum of four uniform bytes, scaled to unit variance */
        uint32_t nseed = (uint32_t)mama_rng_mix64(v->noise_seed);
        for (int k = 0; k < NOISE_TABLE; k++) {
            uint32_t hsh = ph_hash32((uint32_t)k ^ nseed);
            fr.noise[k] = ((float)(hsh & 0xff) + (float)((hsh >> 8) & 0xff) + (float)((hsh >> 16) & 0xff) +
                           (float)(hsh >> 24) - 510.0f) * (1.7320508f / 255.0f);
        }
    }

    /* the texture is a property of the breast and the projection, not of the acquisition */
    uint32_t tex_seed = (uint32_t)ph_hash3(st->seed, (uint64_t)st->index, 100 + v->side * 2 + v->mlo);
    build_coarse(&fr, st, b, v->mlo, tex_seed);
    for (int k = 0; k < b->nfind; k++) {
        const ph_finding *f = &b->find[k];
        if (f->kind != PH_ASYMMETRY) continue;
        double x, y;
        ph_finding_pos(b, f, v->mlo, &x, &y);
        add_asymmetry(&fr, f, x / fr.s, y / fr.s, (uint32_t)f->seed);
    }
    build_tissue(&fr, st, b, v);
    const double nx = (v->mlo ? b->depth_mlo_mm : b->depth_cc_mm) / fr.s;
    const double ny = (v->mlo ? b->nipple_y_mlo : b->nipple_y_cc) / fr.s;
    for (int k = 0; k < b->nfind; k++) {
        const ph_finding *f = &b->find[k];
        double x, y;
        ph_finding_pos(b, f, v->mlo, &x, &y);
        double cx = x / fr.s, cy = y / fr.s;
        switch (f->kind) {
        case PH_MASS: add_mass(&fr, f, cx, cy); break;
        case PH_CALC: add_calcs(&fr, f, cx, cy, nx, ny); break;
        case PH_DISTORTION: add_distortion(&fr, f, cx, cy); break;
        case PH_ASYMMETRY: break;
        }
        if (marks) {
            marks[k].x = v->side ? v->cols - cx : cx;
            marks[k].y = cy;
            marks[k].r = f->size_mm / fr.s;
        }
    }
    if (v->hard & (PH_HARD_FILM | PH_HARD_LABELS | PH_HARD_MARKERS)) ph_hard_apply(st, v, fr.img, v->mask, fr.s);
    if (v->mask) {
        /* the truth is the breast as stored: what the window shows black (the outer skin
         * band, thinner than a millimetre on dense breasts, up to two on fatty ones) is
         * air to every reader and every crop */
        double c, w;
        ph_view plain = *v;
        plain.mono1 = 0;
        ph_window(&plain, &c, &w);
        const float lo = (float)((c - 0.5 * w) / (double)((1u << v->bits) - 1));
        for (size_t p = 0; p < (size_t)v->rows * v->cols; p++)
            if ((v->mask[p] == PH_MASK_BREAST || v->mask[p] == PH_MASK_PECTORAL) && fr.img[p] < lo)
                v->mask[p] = PH_MASK_AIR;
    }
    if (v->mask && v->side) /* the mask was drawn in the canonical frame too */
        for (int i = 0; i < v->rows; i++) {
            uint8_t *m = v->mask + (size_t)i * v->cols;
            for (int j = 0; j < v->cols / 2; j++) {
                uint8_t t = m[j];
                m[j] = m[v->cols - 1 - j];
                m[v->cols - 1 - j] = t;
            }
        }
    /* quantise, mirror the right breast, invert for MONOCHROME1 */
    const float maxv = (float)((1u << v->bits) - 1);
    for (int i = 0; i < v->rows; i++) {
        const float *src = fr.img + (size_t)i * v->cols;
        uint16_t *dst = out + (size_t)i * v->cols;
        for (int j = 0; j < v->cols; j++) {
            float val = src[j];
            val = val < 0 ? 0 : val > 1 ? 1 : val;
            uint16_t q = (uint16_t)(val * maxv + 0.5f);
            if (v->mono1) q = (uint16_t)(maxv - q);
            dst[v->side ? v->cols - 1 - j : j] = q;
        }
    }
    return 0;
}

void ph_window(const ph_view *v, double *out_center, double *out_width) {
    double maxv = (double)((1u << v->bits) - 1);
    double c = 0.47 * maxv, w = 0.62 * maxv;
    *out_center = v->mono1 ? maxv - c : c;
    *out_width = w;
}

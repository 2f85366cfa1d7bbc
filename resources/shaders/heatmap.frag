#version 450
// Heatmap fragment: find the data cell under the pixel (from gl_FragCoord, not interpolated
// varyings, so cell boundaries are exact), fetch it from the R32F tile or its LOD pyramid,
// normalise, and look the colour up in a 256-entry colormap with linear blending between entries.
#include "heatmap_common.glsl"

// The tile's level pc.info.x: 2^k x 2^k block max / mean (both the data itself at level 0).
layout(binding = 0) uniform sampler2D texMax;
layout(binding = 1) uniform sampler2D texMean;
layout(binding = 2) uniform sampler2D lut;     // 256 x N RGBA8 colormaps, one per row
layout(std430, binding = 3) readonly buffer RowStats { vec2 rowMinMax[]; };

layout(location = 0) out vec4 outColor;

// The cell along one axis under the pixel k pixels away from this one (same arithmetic as cell).
int cellAt(int axis, float q, int k)
{
    return int(floor(pc.viewOrigin[axis] + (q + float(k)) * pc.cellsPerPixel[axis]));
}

// Marker line level of this pixel along one axis for the cells [b0, b1): 1 = the line, 2 = its
// halo, 0 = neither. Outside (crosshair): the two pixels before the band and the two after it.
// Inside (box): the outermost two pixels of the band on either side.
int edgeLevel(int axis, float q, int b0, int b1, bool inside)
{
    int c = cellAt(axis, q, 0);
    if (inside) {
        if (c < b0 || c >= b1)
            return 0;
        for (int k = 1; k <= 2; ++k) {
            int a = cellAt(axis, q, -k), b = cellAt(axis, q, k);
            if (a < b0 || b >= b1)
                return k;
        }
        return 0;
    }
    for (int k = 1; k <= 2; ++k) {
        if (c < b0 && cellAt(axis, q, k) >= b0)
            return k;
        if (c >= b1 && cellAt(axis, q, -k) < b1)
            return k;
    }
    return 0;
}

bool inBand(int axis, float q, int b0, int b1)
{
    int c = cellAt(axis, q, 0);
    return c >= b0 && c < b1;
}

// 0, or 1 / 2 for a marker line / halo pixel (the lower level wins where lines cross).
int markerLevel(vec2 q)
{
    bool rows = (pc.info.y & kFlagMarkRows) != 0;
    bool cols = (pc.info.y & kFlagMarkCols) != 0;
    if (!rows && !cols)
        return 0;
    bool box = (pc.info.y & kFlagMarkBox) != 0;
    int ly = rows ? edgeLevel(1, q.y, pc.marker.y, pc.marker.w, box) : 0;
    int lx = cols ? edgeLevel(0, q.x, pc.marker.x, pc.marker.z, box) : 0;
    if (box) {
        if (!inBand(0, q.x, pc.marker.x, pc.marker.z))
            ly = 0;
        if (!inBand(1, q.y, pc.marker.y, pc.marker.w))
            lx = 0;
    }
    if (ly == 0)
        return lx;
    if (lx == 0)
        return ly;
    return min(lx, ly);
}

void main()
{
    vec2 q = gl_FragCoord.xy - pc.vpOffset;
    ivec2 cell = ivec2(floor(pc.viewOrigin + q * pc.cellsPerPixel));
    ivec2 local = cell - pc.tileRect.xy;
    if (any(lessThan(local, ivec2(0))) || any(greaterThanEqual(local, pc.tileRect.zw)))
        discard;
    int mark = markerLevel(q);
    if (mark != 0) {
        outColor = vec4(unpackUnorm4x8(uint(mark == 1 ? pc.extra.z : pc.extra.w)).rgb, 1.0);
        return;
    }
    int level = pc.info.x;
    ivec2 texel = local >> level;
    ivec2 block = pc.tileRect.xy + (texel << level); // first level-0 cell of the block
    int n = 1 << level;
    if ((pc.info.y & kFlagCausal) != 0 &&
        (block.x > block.y + n - 1 || (pc.extra.y > 0 && block.y - (block.x + n - 1) >= pc.extra.y))) {
        // key after query, or older than the sliding window: masked (vis::maskedBlock). A
        // diagonal hatch keeps it distinct from any colormap value.
        int stripe = ((int(gl_FragCoord.x) + int(gl_FragCoord.y)) >> 2) & 1;
        outColor = vec4(pc.maskColor.rgb * (stripe == 1 ? 0.85 : 1.0), 1.0);
        return;
    }
    float v;
    if (pc.info.w == 0)
        v = texelFetch(texMax, texel, 0).r;
    else
        v = texelFetch(texMean, texel, 0).r;
    if (isnan(v))
        discard; // no data (e.g. gaps of the head-grid atlas): background shows through
    float t;
    if (pc.info.z == kNormLog) {
        t = (log(max(v, exp(pc.range.x))) - pc.range.x) * pc.range.y;
    } else if (pc.info.z == kNormPerRow) {
        vec2 mm = rowMinMax[block.y];
        float span = mm.y - mm.x;
        t = span > 0.0 ? (v - mm.x) / span : 0.5;
    } else {
        t = (v - pc.range.x) * pc.range.y;
    }
    t = clamp(t, 0.0, 1.0);
    float x = t * 255.0;
    int i = min(int(floor(x)), 254);
    float f = x - float(i);
    vec4 c0 = texelFetch(lut, ivec2(i, pc.extra.x), 0);
    vec4 c1 = texelFetch(lut, ivec2(i + 1, pc.extra.x), 0);
    outColor = vec4(mix(c0.rgb, c1.rgb, f), 1.0);
}

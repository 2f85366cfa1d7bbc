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

void main()
{
    vec2 q = gl_FragCoord.xy - pc.vpOffset;
    ivec2 cell = ivec2(floor(pc.viewOrigin + q * pc.cellsPerPixel));
    ivec2 local = cell - pc.tileRect.xy;
    if (any(lessThan(local, ivec2(0))) || any(greaterThanEqual(local, pc.tileRect.zw)))
        discard;
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

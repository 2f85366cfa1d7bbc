#version 450
// One level of the level-of-detail pyramid: each output texel reduces the (up to) 2x2 input
// block to its max and its mean, ignoring NaN (no-data) cells.
layout(local_size_x = 16, local_size_y = 16) in;

layout(binding = 0, r32f) uniform readonly image2D srcMax;
layout(binding = 1, r32f) uniform readonly image2D srcMean;
layout(binding = 2, r32f) uniform writeonly image2D dstMax;
layout(binding = 3, r32f) uniform writeonly image2D dstMean;

layout(push_constant) uniform Push {
    ivec2 srcSize;
    ivec2 dstSize;
    int sameSource; // level 1: max and mean sources are both the data, load it once
} pc;

void main()
{
    ivec2 d = ivec2(gl_GlobalInvocationID.xy);
    if (d.x >= pc.dstSize.x || d.y >= pc.dstSize.y)
        return;
    float mx = 0.0;
    float sum = 0.0;
    int nMax = 0;
    int nMean = 0;
    for (int dy = 0; dy < 2; ++dy) {
        for (int dx = 0; dx < 2; ++dx) {
            ivec2 s = d * 2 + ivec2(dx, dy);
            if (s.x >= pc.srcSize.x || s.y >= pc.srcSize.y)
                continue;
            float a = imageLoad(srcMax, s).r;
            float b = pc.sameSource != 0 ? a : imageLoad(srcMean, s).r;
            if (!isnan(a)) {
                mx = nMax == 0 ? a : max(mx, a);
                ++nMax;
            }
            if (!isnan(b)) {
                sum += b;
                ++nMean;
            }
        }
    }
    float nan = uintBitsToFloat(0x7fc00000u);
    imageStore(dstMax, d, vec4(nMax > 0 ? mx : nan));
    imageStore(dstMean, d, vec4(nMean > 0 ? sum / float(nMean) : nan));
}

// Push constants shared by heatmap.vert and heatmap.frag (mirrors ll::vis::HeatmapPush in
// visualizers/vk/heatmap_renderer.cpp; keep the two in sync).
layout(push_constant) uniform HeatmapPush {
    vec2 viewOrigin;    // data coordinates (col, row) shown at the viewport's top-left pixel corner
    vec2 cellsPerPixel; // data cells per framebuffer pixel (x, y)
    vec2 vpOffset;      // viewport origin in framebuffer pixels
    vec2 vpSize;        // viewport size in pixels
    ivec4 tileRect;     // this tile: first col, first row, cols, rows (level-0 cells)
    ivec4 info;         // x: LOD level, y: flags, z: norm mode, w: LOD reduction (0 max, 1 mean)
    vec4 range;         // x: lo, y: 1/(hi-lo) (log mode: log(lo) and 1/(log(hi)-log(lo)))
    vec4 maskColor;     // causal-mask hatch colour (the second stripe is 0.85x darker)
    ivec4 extra;        // x: colormap row in the LUT texture, y: mask window (0: none),
                        // z / w: marker line / halo colour as packed RGBA8
    ivec4 marker;       // marked cells: first col, first row, end col, end row (exclusive)
} pc;

// 128 bytes: the push-constant size every Vulkan device offers.
const int kFlagCausal = 1;
const int kFlagMarkRows = 2;  // lines around the rows marker.y .. marker.w
const int kFlagMarkCols = 4;  // lines around the columns marker.x .. marker.z
const int kFlagMarkBox = 8;   // a frame inside the rectangle instead of lines outside the bands
const int kNormLinear = 0;
const int kNormLog = 1;
const int kNormPerRow = 2;

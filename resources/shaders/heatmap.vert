#version 450
// One quad covering a texture tile, placed by the view transform (data cells -> viewport pixels).
#include "heatmap_common.glsl"

void main()
{
    vec2 corner = vec2(float(gl_VertexIndex & 1), float((gl_VertexIndex >> 1) & 1));
    vec2 cell = vec2(pc.tileRect.xy) + corner * vec2(pc.tileRect.zw);
    vec2 px = (cell - pc.viewOrigin) / pc.cellsPerPixel; // pixels inside the viewport
    gl_Position = vec4(px / pc.vpSize * 2.0 - 1.0, 0.0, 1.0);
}

// The fragment index maps of the mma.sync flash attention kernel (kernels/cuda/mma_layout.h)
// against the PTX ISA's layouts, no GPU needed: ldmatrix.x4 (with and without .trans) is
// emulated as the PTX ISA defines it (lane 8m + r supplies row r of matrix m; register m of lane
// t receives row t / 4, elements 2 (t % 4) and 2 (t % 4) + 1, or the transposed pair), mma
// m16n8k16 from its A/B/C fragment tables; then S = Q K^T and O = S V through the fragments
// equal the plain products.
#include <string>
#include <vector>

#include "kernels/cuda/mma_layout.h"
#include "lltest.h"

using namespace ll::kern;

namespace {

// PTX ISA, mma.m16n8k16 with .f16 A/B and .f32 C: element i of a lane's fragment.
struct RC {
  int r, c;
};
RC ptxA(int lane, int i) {  // i = 0..7; register i / 2 holds elements i, i + 1 (even i)
  const int g = lane >> 2, t = lane % 4;
  return {g + ((i / 2) % 2) * 8, t * 2 + (i & 1) + (i >= 4 ? 8 : 0)};
}
RC ptxB(int lane, int i) {  // i = 0..3 as (k row, n column)
  const int g = lane >> 2, t = lane % 4;
  return {t * 2 + (i & 1) + (i >= 2 ? 8 : 0), g};
}
RC ptxC(int lane, int i) {
  const int g = lane >> 2, t = lane % 4;
  return {g + (i >= 2 ? 8 : 0), t * 2 + (i & 1)};
}

using Mat = std::vector<std::vector<double>>;
Mat mat(int rows, int cols, int seed) {
  Mat m(rows, std::vector<double>(cols));
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) m[i][j] = double((i * 31 + j * 7 + seed) % 23) - 11.0;
  return m;
}

// Emulated ldmatrix.x4: rowAt(lane) gives the (row, column) in `src` where the 8-element row
// supplied by `lane` starts; out[lane][m][h] = half h of register m.
template <class F>
void ldmatrix(const Mat& src, F rowAt, bool trans, double out[32][4][2]) {
  for (int t = 0; t < 32; ++t)
    for (int m = 0; m < 4; ++m)
      for (int h = 0; h < 2; ++h) {
        // element (x, y) of matrix m = src row of lane 8m + x, column start + y
        const int x = trans ? 2 * (t % 4) + h : t / 4, y = trans ? t / 4 : 2 * (t % 4) + h;
        const RC s = rowAt(8 * m + x);
        out[t][m][h] = src[s.r][s.c + y];
      }
}

// c[lane][i] += A B over one m16n8k16 tile from fragments (PTX tables).
void mmaTile(double c[32][4], const double a[32][4][2], const double b0[32][2],
             const double b1[32][2]) {
  double A[16][16], B[16][8];
  for (int l = 0; l < 32; ++l) {
    for (int i = 0; i < 8; ++i) {
      const RC p = ptxA(l, i);
      A[p.r][p.c] = a[l][i / 2][i % 2];
    }
    for (int i = 0; i < 4; ++i) {
      const RC p = ptxB(l, i);
      B[p.r][p.c] = i < 2 ? b0[l][i] : b1[l][i - 2];
    }
  }
  for (int l = 0; l < 32; ++l)
    for (int i = 0; i < 4; ++i) {
      const RC p = ptxC(l, i);
      for (int k = 0; k < 16; ++k) c[l][i] += A[p.r][k] * B[k][p.c];
    }
}

}  // namespace

LL_TEST(aOperandFromRowMajor) {
  const Mat q = mat(16, 16, 1);
  double f[32][4][2];
  ldmatrix(
      q,
      [](int l) {
        return RC{mma::aRow(l), mma::aCol(l)};
      },
      false, f);
  for (int l = 0; l < 32; ++l)
    for (int i = 0; i < 8; ++i) {
      const RC p = ptxA(l, i);
      QVERIFY2(f[l][i / 2][i % 2] == q[p.r][p.c],
               "lane " + std::to_string(l) + " element " + std::to_string(i));
    }
}

LL_TEST(bOperandFromNMajor) {
  const Mat kt = mat(16, 16, 2);  // kt[n][k]: B[k][n] = kt[n][k]
  double f[32][4][2];
  ldmatrix(
      kt,
      [](int l) {
        return RC{mma::bRow(l), mma::bCol(l)};
      },
      false, f);
  for (int l = 0; l < 32; ++l)
    for (int tile = 0; tile < 2; ++tile)
      for (int i = 0; i < 4; ++i) {
        const RC p = ptxB(l, i);  // (k, n) within the n-tile
        QVERIFY2(f[l][2 * tile + i / 2][i % 2] == kt[8 * tile + p.c][p.r],
                 "lane " + std::to_string(l) + " tile " + std::to_string(tile));
      }
}

LL_TEST(bOperandTransposedFromKMajor) {
  const Mat v = mat(16, 16, 3);  // v[k][n] = B[k][n]
  double f[32][4][2];
  ldmatrix(
      v,
      [](int l) {
        return RC{mma::btRow(l), mma::btCol(l)};
      },
      true, f);
  for (int l = 0; l < 32; ++l)
    for (int tile = 0; tile < 2; ++tile)
      for (int i = 0; i < 4; ++i) {
        const RC p = ptxB(l, i);
        QVERIFY2(f[l][2 * tile + i / 2][i % 2] == v[p.r][8 * tile + p.c],
                 "lane " + std::to_string(l) + " tile " + std::to_string(tile));
      }
}

LL_TEST(accumulatorLayoutAndRepack) {
  for (int l = 0; l < 32; ++l) {
    for (int e = 0; e < 4; ++e) {
      QCOMPARE(mma::cRow(l, e), ptxC(l, e).r);
      QCOMPARE(mma::cCol(l, e), ptxC(l, e).c);
    }
    // A element 2r + h of a 16-key block = accumulator accElem(r, h) of 8-key tile accTile(r).
    for (int r = 0; r < 4; ++r)
      for (int h = 0; h < 2; ++h) {
        const RC a = ptxA(l, 2 * r + h);
        const int e = mma::accElem(r, h);
        QCOMPARE(a.r, mma::cRow(l, e));
        QCOMPARE(a.c, 8 * mma::accTile(r) + mma::cCol(l, e));
      }
  }
}

// One warp's 16 queries x 16 keys x 16 dims: S = Q K^T (A from Q, B from K rows), then
// O = S V with S repacked from the accumulators and V through ldmatrix.trans, as the kernel does.
LL_TEST(attentionTileThroughFragments) {
  const Mat q = mat(16, 16, 4), k = mat(16, 16, 5), v = mat(16, 16, 6);
  double qa[32][4][2], kb[32][4][2], vb[32][4][2];
  ldmatrix(
      q,
      [](int l) {
        return RC{mma::aRow(l), mma::aCol(l)};
      },
      false, qa);
  ldmatrix(
      k,
      [](int l) {
        return RC{mma::bRow(l), mma::bCol(l)};
      },
      false, kb);
  ldmatrix(
      v,
      [](int l) {
        return RC{mma::btRow(l), mma::btCol(l)};
      },
      true, vb);
  double s[2][32][4] = {}, o[2][32][4] = {};
  double b[4][32][2];
  for (int l = 0; l < 32; ++l)
    for (int m = 0; m < 4; ++m)
      for (int h = 0; h < 2; ++h) b[m][l][h] = kb[l][m][h];
  mmaTile(s[0], qa, b[0], b[1]);
  mmaTile(s[1], qa, b[2], b[3]);
  double pa[32][4][2];
  for (int l = 0; l < 32; ++l)
    for (int r = 0; r < 4; ++r)
      for (int h = 0; h < 2; ++h) pa[l][r][h] = s[mma::accTile(r)][l][mma::accElem(r, h)];
  for (int l = 0; l < 32; ++l)
    for (int m = 0; m < 4; ++m)
      for (int h = 0; h < 2; ++h) b[m][l][h] = vb[l][m][h];
  mmaTile(o[0], pa, b[0], b[1]);
  mmaTile(o[1], pa, b[2], b[3]);
  Mat sRef(16, std::vector<double>(16, 0.0)), oRef(16, std::vector<double>(16, 0.0));
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j)
      for (int d = 0; d < 16; ++d) sRef[i][j] += q[i][d] * k[j][d];
  for (int i = 0; i < 16; ++i)
    for (int d = 0; d < 16; ++d)
      for (int j = 0; j < 16; ++j) oRef[i][d] += sRef[i][j] * v[j][d];
  for (int tile = 0; tile < 2; ++tile)
    for (int l = 0; l < 32; ++l)
      for (int e = 0; e < 4; ++e) {
        const int r = mma::cRow(l, e), c = 8 * tile + mma::cCol(l, e);
        QVERIFY2(s[tile][l][e] == sRef[r][c],
                 "S at " + std::to_string(r) + "," + std::to_string(c));
        QVERIFY2(o[tile][l][e] == oRef[r][c],
                 "O at " + std::to_string(r) + "," + std::to_string(c));
      }
}

LL_TEST_MAIN("tst_mma_layout")

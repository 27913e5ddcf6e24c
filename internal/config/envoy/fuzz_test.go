package envoy

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzLoad checks that no input makes Load or IsEnvoy panic.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, name := range files {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(minimal("", simpleRoutes, "")))
	f.Add([]byte("static_resources: {listeners: [{filter_chains: [{filters: [{typed_config: {\"@type\": x}}]}]}]}"))
	f.Add([]byte("a: &a [*a]"))
	f.Add([]byte("static_resources:\n  <<: {clusters: []}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = IsEnvoy(data)
		c, err := Load(data)
		if err == nil && c == nil {
			t.Fatal("nil config without an error")
		}
	})
}

// TestBombs checks that documents that expand exponentially through aliases and merge
// keys are refused quickly.
func TestBombs(t *testing.T) {
	for _, doc := range []string{
		"a: &a {<<: [*a, *a]}\nstatic_resources: *a\n",
		"a: &a [*a, *a, *a]\nstatic_resources: {listeners: *a}\n",
		`x0: &x0 {k: v}
x1: &x1 {<<: [*x0, *x0], a: *x0, b: *x0}
x2: &x2 {<<: [*x1, *x1], a: *x1, b: *x1}
x3: &x3 {<<: [*x2, *x2], a: *x2, b: *x2}
x4: &x4 {<<: [*x3, *x3], a: *x3, b: *x3}
x5: &x5 {<<: [*x4, *x4], a: *x4, b: *x4}
x6: &x6 {<<: [*x5, *x5], a: *x5, b: *x5}
x7: &x7 {<<: [*x6, *x6], a: *x6, b: *x6}
x8: &x8 {<<: [*x7, *x7], a: *x7, b: *x7}
x9: &x9 {<<: [*x8, *x8], a: *x8, b: *x8}
xa: &xa {<<: [*x9, *x9], a: *x9, b: *x9}
xb: &xb {<<: [*xa, *xa], a: *xa, b: *xa}
xc: &xc {<<: [*xb, *xb], a: *xb, b: *xb}
xd: &xd {<<: [*xc, *xc], a: *xc, b: *xc}
xe: &xe {<<: [*xd, *xd], a: *xd, b: *xd}
xf: &xf {<<: [*xe, *xe], a: *xe, b: *xe}
xg: &xg {<<: [*xf, *xf], a: *xf, b: *xf}
xh: &xh {<<: [*xg, *xg], a: *xg, b: *xg}
xi: &xi {<<: [*xh, *xh], a: *xh, b: *xh}
xj: &xj {<<: [*xi, *xi], a: *xi, b: *xi}
xk: &xk {<<: [*xj, *xj], a: *xj, b: *xj}
xl: &xl {<<: [*xk, *xk], a: *xk, b: *xk}
xm: &xm {<<: [*xl, *xl], a: *xl, b: *xl}
xn: &xn {<<: [*xm, *xm], a: *xm, b: *xm}
xo: &xo {<<: [*xn, *xn], a: *xn, b: *xn}
xp: &xp {<<: [*xo, *xo], a: *xo, b: *xo}
xq: &xq {<<: [*xp, *xp], a: *xp, b: *xp}
xr: &xr {<<: [*xq, *xq], a: *xq, b: *xq}
xs: &xs {<<: [*xr, *xr], a: *xr, b: *xr}
xt: &xt {<<: [*xs, *xs], a: *xs, b: *xs}
static_resources: {listeners: [*xt]}
`,
	} {
		start := time.Now()
		if _, err := Load([]byte(doc)); err == nil {
			t.Errorf("Load succeeded on a bomb")
		}
		if d := time.Since(start); d > 20*time.Second { // generous: CI machines are shared
			t.Errorf("Load took %v", d)
		}
	}
}

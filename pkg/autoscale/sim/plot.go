package sim

import (
	"bytes"
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// colors of the policies, in the order given to Plot.
var colors = []color.Color{
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
}

// Plot draws the runs one above the other, over minutes: the input rate,
// the member count, the lag in records and the time lag, each policy in its
// own color. It returns a PNG.
func Plot(title string, runs ...Result) ([]byte, error) {
	const rows = 4
	panels := make([][]*plot.Plot, rows)
	ylabels := []string{"input (records/s)", "members", "lag (records)", "time lag (s)"}
	for i := range rows {
		p := plot.New()
		p.Y.Label.Text = ylabels[i]
		p.Add(plotter.NewGrid())
		if i == 0 {
			p.Title.Text = title
		}
		if i == rows-1 {
			p.X.Label.Text = "minutes"
		}
		p.Legend.Top = true
		p.Legend.Left = true
		panels[i] = []*plot.Plot{p}
	}
	for k, r := range runs {
		input := make(plotter.XYs, len(r.Samples))
		members := make(plotter.XYs, len(r.Samples))
		lags := make(plotter.XYs, len(r.Samples))
		times := make(plotter.XYs, len(r.Samples))
		for i, s := range r.Samples {
			x := s.At.Minutes()
			input[i] = plotter.XY{X: x, Y: s.Input}
			members[i] = plotter.XY{X: x, Y: float64(s.Members)}
			lags[i] = plotter.XY{X: x, Y: float64(s.Lag)}
			times[i] = plotter.XY{X: x, Y: s.MaxTimeLag.Seconds()}
		}
		if k == 0 {
			l, err := plotter.NewLine(input)
			if err != nil {
				return nil, err
			}
			panels[0][0].Add(l)
		}
		for i, xys := range []plotter.XYs{members, lags, times} {
			l, err := plotter.NewLine(xys)
			if err != nil {
				return nil, fmt.Errorf("plotting %s: %w", r.Policy, err)
			}
			l.Color = colors[k%len(colors)]
			l.Width = vg.Points(1.2)
			panels[i+1][0].Add(l)
			if i == 0 {
				// In the input's panel, where the top left is empty.
				panels[0][0].Legend.Add(r.Policy, l)
			}
		}
	}
	img := vgimg.New(vg.Points(720), vg.Points(900))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: rows, Cols: 1, PadX: vg.Millimeter, PadY: 3 * vg.Millimeter,
		PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8)}
	canvases := plot.Align(panels, tiles, dc)
	for i := range rows {
		panels[i][0].Draw(canvases[i][0])
	}
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("encoding the plot: %w", err)
	}
	return buf.Bytes(), nil
}

package monitoring

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMismatches(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "a_total", Help: "a"}, []string{"x", "y"})
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "b", Help: "b"})
	reg.MustRegister(c, g)
	c.WithLabelValues("1", "2").Inc()
	cases := []struct {
		name string
		want []Metric
		out  []string
	}{
		{"all as listed", []Metric{{Name: "a_total", Type: Counter, Labels: []string{"y", "x"}}, {Name: "b", Type: Gauge}}, nil},
		{"not exposed", []Metric{{Name: "c_total", Type: Counter}}, []string{"c_total is not exposed"}},
		{"another type", []Metric{{Name: "b", Type: Counter}}, []string{"b is a GAUGE, want counter"}},
		{"other labels", []Metric{{Name: "a_total", Type: Counter, Labels: []string{"x"}}}, []string{"a_total has labels [x y], want [x]"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Mismatches(reg, tc.want)
			require.NoError(t, err)
			assert.Equal(t, tc.out, out)
		})
	}
}

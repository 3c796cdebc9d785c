package rest

import (
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

type httpMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec

	// routes caches each route's series: looking them up by label values
	// hashes the labels and takes the vector's lock on every request.
	mu     sync.RWMutex // guards routes and every routeMetrics.byStatus
	routes map[routeKey]*routeMetrics
}

type routeKey struct{ method, route string }

type routeMetrics struct {
	latency  prometheus.Observer
	byStatus map[int]prometheus.Counter
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "accord", Subsystem: "http", Name: "requests_total",
			Help: "HTTP requests served, by route and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "accord", Subsystem: "http", Name: "request_duration_seconds",
			Help:    "HTTP request latency, by route.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 12),
		}, []string{"method", "route"}),
		routes: map[routeKey]*routeMetrics{},
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

// series returns the latency observer and the request counter of a route
// and status, creating them once.
func (m *httpMetrics) series(method, route string, status int) (prometheus.Observer, prometheus.Counter) {
	k := routeKey{method, route}
	m.mu.RLock()
	rm := m.routes[k]
	var c prometheus.Counter
	if rm != nil {
		c = rm.byStatus[status]
	}
	m.mu.RUnlock()
	if c != nil {
		return rm.latency, c
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if rm = m.routes[k]; rm == nil {
		rm = &routeMetrics{latency: m.latency.WithLabelValues(method, route), byStatus: map[int]prometheus.Counter{}}
		m.routes[k] = rm
	}
	if c = rm.byStatus[status]; c == nil {
		c = m.requests.WithLabelValues(method, route, strconv.Itoa(status))
		rm.byStatus[status] = c
	}
	return rm.latency, c
}

// observe records each request's route, status and latency. Unmatched paths
// share one label so a scan cannot blow up the series count.
func (s *Server) observe(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	latency, requests := s.metrics.series(c.Request.Method, route, c.Writer.Status())
	requests.Inc()
	latency.Observe(time.Since(start).Seconds())
}

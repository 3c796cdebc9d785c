package main

import (
	"github.com/accordchat/accord/actors"
	"github.com/prometheus/client_golang/prometheus"
)

// newEventCounter is the node's fan-out until the gateway delivers events to
// sockets: it counts what the grains emit, by type and recipients.
func newEventCounter(reg prometheus.Registerer) actors.Fanout {
	events := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "accord", Subsystem: "events", Name: "published_total",
		Help: "Gateway events emitted by grains, by type.",
	}, []string{"type"})
	recipients := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "accord", Subsystem: "events", Name: "recipients_total",
		Help: "Recipients of gateway events emitted by grains, by type.",
	}, []string{"type"})
	reg.MustRegister(events, recipients)
	return actors.FanoutFunc(func(ev actors.Event) {
		events.WithLabelValues(ev.Type).Inc()
		recipients.WithLabelValues(ev.Type).Add(float64(len(ev.Recipients)))
	})
}

package main

import (
	"sync/atomic"

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

// fanouts publishes each event to every fan-out in turn.
type fanouts []actors.Fanout

func (f fanouts) Publish(ev actors.Event) {
	for _, o := range f {
		o.Publish(ev)
	}
}

// lateFanout forwards to a fan-out set after the actor system starts (the
// gateway needs the system's grain clients); events before that are dropped,
// as no session exists yet.
type lateFanout struct {
	target atomic.Pointer[actors.Fanout]
}

func (l *lateFanout) set(f actors.Fanout) { l.target.Store(&f) }

func (l *lateFanout) Publish(ev actors.Event) {
	if f := l.target.Load(); f != nil {
		(*f).Publish(ev)
	}
}

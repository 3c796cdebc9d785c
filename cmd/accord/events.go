package main

import (
	"sync/atomic"

	"github.com/accordchat/accord/actors"
	"github.com/prometheus/client_golang/prometheus"
)

// newEventCounter counts the events delivered to this node's sessions (those
// its grains emit and those other nodes send here), by type and recipients.
func newEventCounter(reg prometheus.Registerer) actors.Fanout {
	events := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "accord", Subsystem: "events", Name: "published_total",
		Help: "Gateway events delivered on this node, by type.",
	}, []string{"type"})
	recipients := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "accord", Subsystem: "events", Name: "recipients_total",
		Help: "Recipients on this node of gateway events, by type.",
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

// registerFanoutStats exposes the cross-node fan-out counters: for each
// event, one remote message per other node hosting recipients.
func registerFanoutStats(reg prometheus.Registerer, sys *actors.System) {
	counter := func(name, help string, read func(actors.FanoutStats) int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "accord", Subsystem: "fanout", Name: name, Help: help},
			func() float64 { return float64(read(sys.FanoutStats())) })
	}
	reg.MustRegister(
		counter("events_total", "Events published by this node's grains and gateway.",
			func(s actors.FanoutStats) int64 { return s.Events }),
		counter("remote_messages_total", "Event messages sent to other nodes (one per event and node hosting recipients).",
			func(s actors.FanoutStats) int64 { return s.RemoteMessages }),
		counter("remote_received_total", "Event messages received from other nodes.",
			func(s actors.FanoutStats) int64 { return s.RemoteEvents }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "accord", Subsystem: "channel", Name: "fencings_total",
			Help: "Channel grain activations on this node fenced out by a newer owner."},
			func() float64 { return float64(sys.Fencings()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "accord", Subsystem: "cluster", Name: "peers",
			Help: "Other nodes this node exchanges events and session routes with."},
			func() float64 { return float64(len(sys.Peers())) }),
	)
}

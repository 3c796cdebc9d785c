// Package discord holds Discord API v10 wire types shared by the REST API and
// the gateway: objects as clients decode them (ids as strings, nullable
// fields as null, optional objects omitted) and the JSON error codes.
package discord

//go:build tools

// Package main: this file pins module dependencies while the packages that use
// them are being written; it is removed once every dependency has a real user.
package main

import (
	_ "github.com/EventStore/EventStore-Client-Go/v4/esdb"
	_ "github.com/chromedp/chromedp"
	_ "github.com/cockroachdb/pebble/v2"
	_ "github.com/golang-jwt/jwt/v5"
	_ "github.com/labstack/echo/v4"
	_ "github.com/open-policy-agent/opa/v1/rego"
	_ "github.com/open-policy-agent/opa/v1/tester"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/transparency-dev/merkle"
	_ "github.com/transparency-dev/merkle/compact"
	_ "github.com/transparency-dev/merkle/proof"
	_ "github.com/transparency-dev/merkle/rfc6962"
	_ "github.com/tsenart/vegeta/v12/lib"
	_ "golang.org/x/mod/sumdb/note"
	_ "golang.org/x/time/rate"
)

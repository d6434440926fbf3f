// Package models holds TidySupport Webhooks' domain types: the event catalog,
// the envelope a receiver gets, webhooks, API keys and the errors that cross
// package boundaries. It is plain data with validation; it imports only the
// standard library and must never touch a database, Temporal or HTTP.
package models

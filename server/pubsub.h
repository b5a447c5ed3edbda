/*
 * pubsub.h - publish/subscribe: channels, patterns and shard channels,
 * the subscribed-mode rules, and keyspace notifications' delivery.
 *
 * Design: three server-wide tables (channels, patterns, shard channels)
 * map a name to its subscription record, which keeps an array of
 * subscriptions; each client keeps the array of its own subscriptions, and
 * every subscription knows its slot in both arrays, so subscribing and
 * unsubscribing cost O(1) after the lookup (membership is checked against
 * the shorter of the two arrays). Patterns also sit in one flat array that
 * PUBLISH walks.
 *
 * PUBLISH encodes each message once (RESP2 "*3"; a RESP3 subscriber gets
 * the same bytes with '>' as the first byte) and appends it to every
 * subscriber's output buffer, then applies the pubsub class of
 * client-output-buffer-limit to that subscriber: a subscriber that does
 * not read is cut off without slowing the others.
 *
 * Subscribed mode: a RESP2 client with any subscription may only run
 * (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PING, QUIT and RESET (dispatch asks
 * pubsub_refuses). RESP3 clients run anything; their messages are pushes.
 *
 * Thread: main. Never blocks; allocates subscription records.
 */
#ifndef LODE_PUBSUB_H
#define LODE_PUBSUB_H

#include "engine/cmd.h"

#include <stdbool.h>
#include <stddef.h>

struct client;

/* Creates the tables and installs the engine's keyspace-notification hook.
 * Call once, after WAL recovery (replay must not notify). */
void pubsub_init(void);
/* Whether c has any subscription (channel, pattern or shard channel). */
bool pubsub_subscribed(const struct client *c);
/* Subscriptions of c: channels, patterns, shard channels (CLIENT LIST). */
void pubsub_counts(const struct client *c, long long *sub, long long *psub, long long *ssub);
/* Whether cmd is refused because c is in RESP2 subscribed mode; if so,
 * writes Redis's error text (without '-') into msg (size n). */
bool pubsub_refuses(const struct client *c, const struct cmd_def *cmd, char *msg, size_t n);
/* Drops every subscription of c without replying (RESET, disconnect). */
void pubsub_client_reset(struct client *c);
/* Channels, patterns and shard channels with subscribers (INFO stats). */
void pubsub_stats(long long *channels, long long *patterns, long long *shard_channels);
/* Publishes msg on channel (patterns included). Returns receivers. */
long long pubsub_publish(const char *ch, size_t chlen, const char *msg, size_t mlen);

#endif

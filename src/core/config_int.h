/* config_int: what config.c shares with config_serve.c, the [serve]
 * section's keys. */
#ifndef HERALD_CONFIG_INT_H
#define HERALD_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "herald/config.h"

/* Reads a secret from the environment variable or the file ref names (a
 * file's trailing line ends dropped) into *value (the caller wipes and
 * frees it). Returns -1 with the reason in why, without the key's name. */
int hd_cfg_secret_read(const char *ref, bool is_env, char **value, size_t *len, char *why,
                       size_t n);

void hd_cfg_serve_defaults(struct hd_serve_cfg *s);
/* One key = value of [serve] on line; -1 with the message in why. */
int hd_cfg_serve_key(struct hd_serve_cfg *s, const char *key, const char *v, int line, char *why,
                     size_t n);
/* Without a configuration file: the local service's links, public_url
 * http://127.0.0.1:8025 and secret_file var/herald.secret, as in
 * etc/herald.conf, so that a fresh install runs end to end. */
/* Once the file is read: the keys that go together (the TLS pair); -1
 * with the message in why. */
int hd_cfg_serve_check(const struct hd_serve_cfg *s, char *why, size_t n);
int hd_cfg_serve_builtin(struct hd_serve_cfg *s, char *why, size_t n);
void hd_cfg_serve_release(struct hd_serve_cfg *s);
/* One key = value of [bounces] (config_bounces.c); -1 with the message in why. */
int hd_cfg_bounces_key(struct hd_bounces_cfg *b, const char *key, const char *v, char *why,
                       size_t n);
void hd_cfg_bounces_release_password(struct hd_bounces_cfg *b);
void hd_cfg_bounces_release(struct hd_bounces_cfg *b);
/* One key = value of [webhook NAME] (config_webhook.c), the section
 * added to cfg on its first key; -1 with the message in why. */
int hd_cfg_webhook_key(struct hd_config *cfg, const char *name, const char *key, const char *v,
                       int section_line, char *why, size_t n);
/* Once the file is read: a webhook's required keys; -1 with the message
 * in why and *line the section's. */
int hd_cfg_webhooks_check(const struct hd_config *cfg, int *line, char *why, size_t n);
void hd_cfg_webhooks_release(struct hd_config *cfg);
void hd_cfg_webhooks_dump(const struct hd_config *cfg, struct hd_buf *out);
/* An http provider's receipt_* keys (config_receipt.c), read into
 * p->receipt once the provider's keys are in: -1 with the message in why
 * and the offending key's line in *line. */
int hd_cfg_http_receipt(struct hd_provider_cfg *p, int *line, char *why, size_t n);
void hd_cfg_http_receipt_free(struct hd_http_receipt *r);
void hd_cfg_serve_dump(const struct hd_serve_cfg *s, struct hd_buf *out);

#endif

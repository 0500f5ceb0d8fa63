/* label: IRCv3 labeled-response. While a labeled command runs, the client's replies are held
 * back; then they go out as one line tagged with the label, or as a labeled-response batch,
 * or, when there were none, as an ACK. Runs on the client's worker only. */
#ifndef TCPCHAT_LABEL_H
#define TCPCHAT_LABEL_H

#include "core/defines.h"
#include "core/sendq.h"

struct client;

/* Starts holding c's replies in held. */
void label_begin(struct client *c, struct sendq *held);
/* Sends what was held, labelled, and stops holding. */
void label_end(struct client *c, struct sendq *held, const char *label);

#endif

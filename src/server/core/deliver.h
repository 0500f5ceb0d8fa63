/* deliver: what a worker does with the items in its mailbox (fanout.h posts them): appends
 * each event to the send queues of the local clients it is for, keeps the channel replicas
 * in step (replica.h), takes new connections, runs calls from other threads. Runs on the
 * mailbox's worker only. */
#ifndef TCPCHAT_DELIVER_H
#define TCPCHAT_DELIVER_H

struct worker;

/* Takes every item queued in w's mailbox and carries it out, oldest first. Returns how many. */
int deliver_mailbox(struct worker *w);

#endif

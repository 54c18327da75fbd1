/* ticker.h: one background thread that calls a function again and again, sleeping between
 * calls as long as the function asks, until woken or stopped. The outbox sender and the
 * retention pass are such threads. */
#ifndef MAMA_TICKER_H
#define MAMA_TICKER_H

#include <stdint.h>

typedef struct ticker ticker;

/* run does one round and returns how long to sleep before the next, ms (0: at once). It is
 * not called again after ticker_stop returns. stopping(ctx)-style checks inside a long
 * round can use ticker_stopping. */
typedef int64_t (*ticker_fn)(void *ctx, ticker *t);

int ticker_start(ticker_fn run, void *ctx, ticker **out);
/* Ends the current sleep: the next round starts now. NULL is ignored. */
void ticker_wake(ticker *t);
/* 1 once ticker_stop was called (for long rounds to return early). */
int ticker_stopping(ticker *t);
/* Lets the current round finish, joins the thread, frees. NULL is ignored. */
void ticker_stop(ticker *t);

#endif

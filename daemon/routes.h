/* routes.h: the REST route table (routes.c), which the server (rest.c) dispatches on and
 * docs/openapi.yaml documents. */
#ifndef MAMA_ROUTES_H
#define MAMA_ROUTES_H

#include "daemon/rest_reply.h"

typedef void (*rest_handler)(const rest_request *req, rest_response *resp);

typedef struct rest_route {
    const char *method;
    const char *pattern;      /* "/api/v1/studies/{uid}": {x} matches one segment */
    int min_role;             /* 0 = no token needed, CONFIG_ROLE_READ, CONFIG_ROLE_ADMIN */
    rest_handler handler;
    const char *summary;
} rest_route;

extern const rest_route rest_routes[];
extern const int rest_n_routes;

#endif

/* routes_results.h: the REST handlers of the results sent back to the radiologist (the
 * CAD SR, the overview, the thumbnails, the outbox state) and the dashboard's static
 * files; rows of the table in routes.c. */
#ifndef MAMA_ROUTES_RESULTS_H
#define MAMA_ROUTES_RESULTS_H

#include "daemon/rest_reply.h"

void h_study_sr(const rest_request *req, rest_response *resp);
void h_study_overview(const rest_request *req, rest_response *resp);
void h_study_thumbnail(const rest_request *req, rest_response *resp);
void h_study_delete(const rest_request *req, rest_response *resp);
void h_dashboard_index(const rest_request *req, rest_response *resp);
void h_dashboard_file(const rest_request *req, rest_response *resp);

/* The study's outbox rows as a JSON array (new reference; empty on error). */
json_t *routes_outbox_json(db *index, const char *study_uid);
/* Appends the outbox metrics (Prometheus text) to b (cap bytes, *len used). */
void routes_outbox_metrics(db *index, const metrics *m, char *b, size_t cap, size_t *len);

#endif

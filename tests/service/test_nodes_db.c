/* test_nodes_db.c: several nodes on one index, at the db/grouper level. Four handles
 * (nodes n0..n3, each with its own grouper and its own connections) on one index: a real
 * PostgreSQL database when MAMA_TEST_PG_URI is set (pgserver.py), else one SQLite file.
 *
 *  - The four views of each study are added by the four nodes at the same moment (a
 *    barrier per study): one study row, one NewStudy, one StudyComplete, one StudyQueued.
 *    Catches a read-modify-write of the study that is not serialised across nodes.
 *  - Meanwhile a reader follows GET /changes' query (since = the last seq seen): it must
 *    see every change of the final log, in increasing order. Catches a changes log whose
 *    sequence is not commit order (a reader that saw seq N+1 before N committed skips N).
 *  - Every node claims at once until the queue is empty: each study claimed once.
 *  - Every node's timer ticks past the deadlines at once: each timeout fires once. */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "daemon/grouper.h"
#include "tests/check.h"

#define N_NODES 4
#define N_STUDIES 24
#define N_TIMEOUT 8
#define MG_PRES "1.2.840.10008.5.1.4.1.1.1.2"

static db *nodes[N_NODES];
static grouper *groupers[N_NODES];
static pthread_barrier_t barrier;
static volatile int writers_done;
static const int64_t T0 = 1700000000000;

static const char *const lat[4] = {"L", "L", "R", "R"};
static const char *const pos[4] = {"CC", "MLO", "CC", "MLO"};

static dcm_instance_info view(int study, int v) {
    dcm_instance_info i;
    memset(&i, 0, sizeof i);
    snprintf(i.study_uid, sizeof i.study_uid, "1.2.9.%d", study + 1);
    snprintf(i.series_uid, sizeof i.series_uid, "1.2.9.%d.%d", study + 1, v + 1);
    snprintf(i.sop_instance_uid, sizeof i.sop_instance_uid, "1.2.9.%d.%d.1", study + 1, v + 1);
    snprintf(i.sop_class_uid, sizeof i.sop_class_uid, MG_PRES);
    snprintf(i.image_laterality, sizeof i.image_laterality, "%s", lat[v]);
    snprintf(i.view_position, sizeof i.view_position, "%s", pos[v]);
    snprintf(i.presentation_intent, sizeof i.presentation_intent, "FOR PRESENTATION");
    snprintf(i.patient_id, sizeof i.patient_id, "P%d", study);
    return i;
}

static int add_failures, claim_failures, tick_failures;
static char claimed[N_STUDIES][65];
static int n_claimed;
static pthread_mutex_t claimed_mu = PTHREAD_MUTEX_INITIALIZER;

/* Node k adds view k of every study, all nodes in step. */
static void *adder(void *arg) {
    int k = (int)(intptr_t)arg;
    for (int st = 0; st < N_STUDIES; st++) {
        pthread_barrier_wait(&barrier);
        dcm_instance_info i = view(st, k);
        if (grouper_add_instance(groupers[k], &i, "/x.dcm", 100, T0 + st) != DB_OK)
            __atomic_fetch_add(&add_failures, 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

/* Follows the feed as a dashboard does; records every seq it sees. */
static int64_t seen[N_STUDIES * 8 + 64];
static int n_seen, reader_errors, reader_order_errors;

static void *reader(void *arg) {
    (void)arg;
    int64_t since = 0;
    db_change page[16];
    for (;;) {
        int stop = __atomic_load_n(&writers_done, __ATOMIC_SEQ_CST);
        int n = 0, done = 0;
        if (db_changes_since(nodes[0], since, 16, page, &n, &done) != DB_OK) reader_errors++;
        for (int i = 0; i < n; i++) {
            if (page[i].seq <= since) reader_order_errors++;
            since = page[i].seq;
            if (n_seen < (int)(sizeof seen / sizeof seen[0])) seen[n_seen++] = page[i].seq;
        }
        if (stop && n == 0) break;   /* one last pass after the writers finished */
    }
    return NULL;
}

static void *claimer(void *arg) {
    int k = (int)(intptr_t)arg;
    pthread_barrier_wait(&barrier);
    for (;;) {
        db_study s;
        db_rc rc = db_study_claim_next(nodes[k], T0 + 100000, &s);
        if (rc == DB_NOTFOUND) break;
        if (rc != DB_OK) {
            __atomic_fetch_add(&claim_failures, 1, __ATOMIC_SEQ_CST);
            break;
        }
        pthread_mutex_lock(&claimed_mu);
        if (n_claimed < N_STUDIES) snprintf(claimed[n_claimed], 65, "%s", s.uid);
        n_claimed++;
        pthread_mutex_unlock(&claimed_mu);
    }
    return NULL;
}

static void *ticker(void *arg) {
    int k = (int)(intptr_t)arg;
    pthread_barrier_wait(&barrier);
    if (grouper_tick(groupers[k], T0 + 500000) != DB_OK)
        __atomic_fetch_add(&tick_failures, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void run_all(void *(*fn)(void *)) {
    pthread_t th[N_NODES];
    for (int k = 0; k < N_NODES; k++) pthread_create(&th[k], NULL, fn, (void *)(intptr_t)k);
    for (int k = 0; k < N_NODES; k++) pthread_join(th[k], NULL);
}

/* Changes of a type for a study in the whole log. */
static int count_changes(const db_change *all, int n, const char *type, const char *uid) {
    int c = 0;
    for (int i = 0; i < n; i++)
        if (!strcmp(all[i].type, type) && !strcmp(all[i].study_uid, uid)) c++;
    return c;
}

int main(void) {
    char dir[] = "/tmp/mamad-nodes-XXXXXX", target[400], err[400];
    if (!mkdtemp(dir)) return 1;
    snprintf(target, sizeof target, "%s/index.sqlite", dir);
    const char *pg = getenv("MAMA_TEST_PG_URI");
    if (pg && *pg) snprintf(target, sizeof target, "%s", pg);
    grouper_config gc = {.stable_age_ms = 1000, .max_wait_ms = 100000, .max_attempts = 2, .tick_ms = 50};
    for (int k = 0; k < N_NODES; k++) {
        CHECK_MSG(db_open(target, &nodes[k], err, sizeof err) == DB_OK, "%s", err);
        if (!nodes[k]) CHECK_DONE();
        char id[8];
        snprintf(id, sizeof id, "n%d", k);
        db_set_node(nodes[k], id, 60000);
        CHECK(grouper_create(nodes[k], &gc, NULL, NULL, &groupers[k]) == 0);
    }

    /* 1: four views of each study at four nodes at once, a reader following the feed. */
    pthread_barrier_init(&barrier, NULL, N_NODES);
    pthread_t rd;
    pthread_create(&rd, NULL, reader, NULL);
    run_all(adder);
    __atomic_store_n(&writers_done, 1, __ATOMIC_SEQ_CST);
    pthread_join(rd, NULL);
    CHECK(add_failures == 0);

    static db_change all[N_STUDIES * 8 + 64];
    int n_all = 0, done = 0;
    CHECK(db_changes_since(nodes[1], 0, (int)(sizeof all / sizeof all[0]), all, &n_all, &done) == DB_OK);
    CHECK(done == 1 && n_all == N_STUDIES * 3);   /* NewStudy, StudyComplete, StudyQueued */
    for (int st = 0; st < N_STUDIES; st++) {
        char uid[65];
        snprintf(uid, sizeof uid, "1.2.9.%d", st + 1);
        db_study s;
        CHECK(db_study_get(nodes[st % N_NODES], uid, &s) == DB_OK && s.n_instances == 4 &&
              s.complete == 1 && s.state == DB_STATE_QUEUED);
        CHECK_MSG(count_changes(all, n_all, "NewStudy", uid) == 1, "%s", uid);
        CHECK_MSG(count_changes(all, n_all, "StudyComplete", uid) == 1, "%s", uid);
        CHECK_MSG(count_changes(all, n_all, "StudyQueued", uid) == 1, "%s", uid);
    }
    int nodes_seen[N_NODES] = {0};
    for (int i = 0; i < n_all; i++) {
        if (i > 0) CHECK(all[i].seq > all[i - 1].seq);
        if (all[i].node[0] == 'n' && all[i].node[1] >= '0' && all[i].node[1] < '0' + N_NODES)
            nodes_seen[all[i].node[1] - '0']++;
    }
    for (int k = 0; k < N_NODES; k++) CHECK_MSG(nodes_seen[k] > 0, "no change from node n%d", k);
    /* The follower saw exactly the final log. */
    CHECK(reader_errors == 0 && reader_order_errors == 0);
    CHECK_MSG(n_seen == n_all, "the reader saw %d of %d changes", n_seen, n_all);
    for (int i = 0; i < n_seen && i < n_all; i++) CHECK(seen[i] == all[i].seq);

    /* 2: every node claims at once. */
    run_all(claimer);
    CHECK(claim_failures == 0);
    CHECK_MSG(n_claimed == N_STUDIES, "%d claims for %d studies", n_claimed, N_STUDIES);
    for (int i = 0; i < n_claimed && i < N_STUDIES; i++)
        for (int j = i + 1; j < n_claimed && j < N_STUDIES; j++)
            CHECK_MSG(strcmp(claimed[i], claimed[j]) != 0, "%s claimed twice", claimed[i]);

    /* 3: three views each (no completion), then every node ticks past the deadline. */
    for (int st = N_STUDIES; st < N_STUDIES + N_TIMEOUT; st++)
        for (int v = 0; v < 3; v++) {
            dcm_instance_info i = view(st, v);
            CHECK(grouper_add_instance(groupers[v], &i, "/x.dcm", 100, T0 + 1000) == DB_OK);
        }
    run_all(ticker);
    CHECK(tick_failures == 0);
    CHECK(db_changes_since(nodes[2], 0, (int)(sizeof all / sizeof all[0]), all, &n_all, &done) == DB_OK);
    for (int st = N_STUDIES; st < N_STUDIES + N_TIMEOUT; st++) {
        char uid[65];
        snprintf(uid, sizeof uid, "1.2.9.%d", st + 1);
        CHECK_MSG(count_changes(all, n_all, "StudyTimedOut", uid) == 1, "%s", uid);
        CHECK_MSG(count_changes(all, n_all, "StudyQueued", uid) == 1, "%s", uid);
    }

    pthread_barrier_destroy(&barrier);
    for (int k = 0; k < N_NODES; k++) {
        grouper_destroy(groupers[k]);
        db_close(nodes[k]);
    }
    check_remove_dir(dir);
    CHECK_DONE();
}

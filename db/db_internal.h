/* db_internal.h: private to db/: the connection struct and the schema migrator. */
#ifndef MAMA_DB_INTERNAL_H
#define MAMA_DB_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>
#include <stddef.h>

#include "db/db.h"

int db_schema_migrate(sqlite3 *conn, char *err, size_t errlen);

#endif

/* log.h: levelled, categorised logging to stderr or syslog, shared by the service
 * layers (dicom, db, daemon, tools). The engine does not log; it returns status codes.
 * The macros test the level before any formatting happens. */
#ifndef MAMA_LOG_H
#define MAMA_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum log_level {
    LOG_LVL_ERROR = 0,
    LOG_LVL_WARN = 1,
    LOG_LVL_INFO = 2,
    LOG_LVL_DEBUG = 3,
} log_level;

typedef enum log_category {
    LOG_CAT_MAIN = 1 << 0,
    LOG_CAT_DICOM = 1 << 1,
    LOG_CAT_HTTP = 1 << 2,
    LOG_CAT_DB = 1 << 3,
    LOG_CAT_ENGINE = 1 << 4,
    LOG_CAT_ALL = 0x1f,
} log_category;

/* Process-wide settings; set once at start-up before threads exist. */
void log_init(log_level level, unsigned category_mask, int use_syslog, const char *ident);
int log_parse_level(const char *text, log_level *out_level);  /* 0 on success */
void log_shutdown(void);

extern log_level log_current_level;
extern unsigned log_current_mask;

void log_write(log_level level, log_category cat, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define LOG_AT(level, cat, ...)                                                    \
    do {                                                                           \
        if ((level) <= log_current_level && ((cat) & log_current_mask))            \
            log_write((level), (cat), __VA_ARGS__);                                \
    } while (0)

#define log_error(cat, ...) LOG_AT(LOG_LVL_ERROR, cat, __VA_ARGS__)
#define log_warn(cat, ...) LOG_AT(LOG_LVL_WARN, cat, __VA_ARGS__)
#define log_info(cat, ...) LOG_AT(LOG_LVL_INFO, cat, __VA_ARGS__)
#define log_debug(cat, ...) LOG_AT(LOG_LVL_DEBUG, cat, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif

/* SPDX-License-Identifier: MIT */
/*
 * chunk.c - a file's data as a table of fixed-size chunks
 * (see include/zramfs/chunk.h).
 *
 * The chunk record (struct zr_chunk, 16 bytes, as zram's per-slot meta):
 *
 *	info	 32 bits: state (2) | codec id (2) | dirty (1) | spilled (1) |
 *		 recompressed (1) | spare (4) | ulen (21)
 *	tick	 32 bits: last access, in the store's coarse clock (writeback)
 *	u.obj	 handle (32) + clen (32)  for COMPRESSED and RAW;
 *		 spill location (32, in 512 B blocks) + clen for SPILLED
 *	u.word	 the repeated 64-bit word  for SAME
 *
 * ulen is the number of bytes the chunk stores, counted from the chunk's
 * start (1 .. chunk size); bytes between ulen and the chunk size read as
 * zeros.  A chunk at EOF stores only its valid bytes, so a 3 KiB file costs
 * a 3 KiB-ish object, not a 64 KiB one.  clen is the arena object's size
 * (the compressed length, or ulen for RAW).  An all-zero record is a HOLE.
 *
 * States and transitions (all under the file's write lock):
 *
 *	DIRTY       the newest bytes are in a staging buffer (struct stage,
 *	            pointed to by u.word; INFO_DIRTY set, codec bits unused),
 *	            waiting for or being compressed by a worker.  Counts in
 *	            orig_data_size and chunks, with clen 0.
 *	HOLE        nothing stored; reads as zeros; costs no record memory
 *	            unless a neighbour in its leaf is stored.
 *	SAME        every byte follows one repeated 64-bit word (zram's
 *	            ZRAM_SAME); no arena memory.
 *	COMPRESSED  an arena object of clen bytes, coded with the recorded
 *	            codec (the file's codec may change later).
 *	RAW         an arena object holding the ulen bytes as is, when the
 *	            codec could not save RAW_SAVING_DIV-th of the length, or
 *	            the file's codec is "none" (zram's "huge" pages).
 *	SPILLED     a COMPRESSED or RAW chunk written back to the spill
 *	            (INFO_SPILLED set, the state and codec bits kept): an
 *	            extent of clen bytes; reads pread, verify and decode it.
 *	            Replacing the record frees the extent (rec_release()).
 *
 *	write/RMW:    inline mode: any -> SAME | COMPRESSED | RAW (re-encoded
 *	              from scratch); with workers: any -> DIRTY (a stored chunk
 *	              is decoded into the stage first and its object freed)
 *	worker:       DIRTY -> SAME | COMPRESSED | RAW, or stays DIRTY
 *	punch:        any -> HOLE (whole or all-zero result), else re-encoded
 *	zero_range:   any -> SAME(0), or re-encoded when partly covered
 *	allocate:     HOLE -> SAME(0); a stored chunk whose ulen ends inside
 *	              the range is extended to it (SAME(0) just grows ulen,
 *	              others are re-encoded), so its bytes are reserved too
 *	truncate:     past EOF -> HOLE; the new last chunk is re-encoded with
 *	              a shorter ulen (SAME just shortens ulen)
 *	writeback:    COMPRESSED | RAW -> SPILLED (see "Writeback" below)
 *	recompress:   COMPRESSED -> COMPRESSED with INFO_RECOMP set (see
 *	              "Idle recompression" below); any new record has it clear
 *
 * Access ticks: a new record gets the store's clock (rec_store()); a read
 * sets it with a relaxed atomic store under the shared lock (rec_touch());
 * rec_get() loads it atomically.  Every other access to a record is under
 * the exclusive lock, so the tick is the one field readers write.
 *
 * A new record is always built completely (arena object allocated and
 * written) before it replaces the old one, and the old object is freed
 * after: a failed chunk keeps its previous contents.
 *
 * The chunk table is a radix tree of variable height: leaves of up to
 * LEAF_RECS records, interior nodes of NODE_SLOTS pointers.  A leaf exists
 * only while it holds a non-hole record, a node only while it has a child,
 * so memory follows the data present and a sparse 16 TiB file costs
 * nothing.  Leaves grow by doubling up to LEAF_RECS, so a one-chunk file's
 * table is one 16-byte record plus the leaf header.
 *
 * Locking: each zr_fdata has a pthread rwlock.  Reads and seeks share it
 * (so does a worker's snapshot of a stage);
 * write, truncate, punch, zero_range, allocate and copy's destination take
 * it exclusively (copy takes src shared and dst exclusive, in address
 * order; once when src == dst).  The tree and records are plain memory
 * protected by that lock.  size and codec are atomics (read without the
 * lock).  Store counters are atomics updated with each change; the logical
 * size limit is enforced by reserving the ulen delta with a CAS before a
 * chunk is encoded, so orig_data_size never passes the limit even with
 * writers on different files.
 *
 * Staging and workers.  With workers, a write copies each chunk into a
 * stage and returns; the stage is handed to the store's pool (pool.c).
 * The protocol, per stage st of chunk idx of file f:
 *
 *   - st->version, st->queued, st->detached, st->busy and the record are
 *     only read or written under f->lock; st->data is written only under
 *     it exclusively and only while !st->busy.
 *   - Every change to a dirty chunk that is not busy (write, truncate's
 *     tail, punch) is made in st->data in place, bumps st->version, and
 *     queues st unless st->queued (then the worker holding it will see the
 *     new version).  A write to a busy chunk moves it to a new stage (the
 *     old bytes copied, then patched; the old stage detached), or encodes
 *     it inline when no stage is free; truncate only shortens ulen.  A
 *     stage is queued at most once, so the pool never holds more jobs than
 *     there are stages.
 *   - A worker (stage_job) takes f->lock shared, reads ulen, the version
 *     and the codec and sets st->busy, unlocks, and then, with no lock
 *     held, same-fill-checks and compresses st->data (raw above 7/8) and
 *     allocates the arena object: no copy of the stage.  It then takes
 *     f->lock exclusively, clears busy and publishes (publish()):
 *       detached          -> free the new object; the stage is freed;
 *       version changed   -> free the new object; re-queue (the pool puts
 *                            it at the tail: newer data is never lost);
 *       encode failed     -> the chunk stays DIRTY, unqueued; the error is
 *                            kept for the next zr_fdata_sync(); the next
 *                            change of the chunk queues it again;
 *       else              -> install the record; the stage is freed.
 *   - Whoever replaces a DIRTY record (truncate, punch, zero_range, a
 *     clone by copy, destroy, the worker's own publish) calls
 *     stage_unlink(): a queued stage is marked detached and left to its
 *     worker, an unqueued one is freed at once.  So a stage is freed by
 *     exactly one party, and no record ever points to a freed stage:
 *     nothing is leaked, nothing dropped comes back.
 *   - f->inflight (under the store's stage_lock) counts f's queued stages;
 *     a worker drops it after its last touch of f.  zr_fdata_sync() waits
 *     for it to reach 0; zr_fdata_destroy() frees the chunks (detaching
 *     queued stages) and then waits for it too, so no worker uses a freed
 *     file.
 *
 * Staging memory is bounded: at most stages_max stages (-o staging over
 * the chunk size) exist, allocated on first need with zr_malloc (so they
 * count in mem_used_total) and kept on a free list (no malloc per chunk);
 * zr_store_sync() frees the unused ones when nothing is queued.  A writer
 * that finds none free submits what it staged, drops f->lock (workers
 * need it), and waits on free_cv until an eighth of the bound is free, so
 * it then runs a whole request without waiting again.  When no stage is
 * queued (every one is held by a chunk whose publish failed) waiting is
 * pointless and the writer compresses inline instead.  copy_file_range
 * never waits (two file locks held): it compresses inline when no stage is
 * free.  Reads of a DIRTY chunk copy from its stage.
 *
 * Lock order: ns locks -> f->lock -> stage_lock -> the pool's lock.
 * Workers take f->lock only to snapshot and to publish, never while
 * compressing.  In inline mode (workers=0, or before zr_store_start())
 * there are no stages and writes encode in the calling thread.
 *
 * Scratch buffers (one decoded chunk, one compressed chunk, and a copy
 * buffer on first copy) are per thread, allocated once at the largest
 * chunk size and freed when the thread exits.
 */
#include "zramfs/chunk.h"
#include "zramfs/fault.h"
#include "zramfs/lifo.h"
#include "zramfs/mem.h"
#include "zramfs/pool.h"
#include "zramfs/spill.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

/* ---------------------------------------------------------------------
 * Tuning parameters
 * ------------------------------------------------------------------- */

/* Store a chunk raw unless compression saves at least 1/8 of its length:
 * below that, the space won does not pay for a decompress on every read
 * (zram draws the same line through zsmalloc's huge class, ~3/4..7/8 of a
 * page).  Compression output is capped at that size, so an incompressible
 * chunk fails fast and the compressed scratch needs only ZR_CHUNK_MAX. */
#define RAW_SAVING_DIV 8

/* 256 records (4 KiB) per leaf: a full leaf is one page, and the table
 * costs 1/256 of a record's index range in pointers. */
#define LEAF_SHIFT 8
#define LEAF_RECS  (1u << LEAF_SHIFT)
#define LEAF_MASK  (LEAF_RECS - 1)

/* A new leaf starts with room for this many records and doubles: a small
 * file's table stays a few dozen bytes. */
#define LEAF_MIN_CAP 1

/* 64 pointers (512 B) per interior node: four levels above the leaves
 * cover 2^32 chunks, the most a 2^44-byte file of 4 KiB chunks has. */
#define NODE_SHIFT 6
#define NODE_SLOTS (1u << NODE_SHIFT)
#define NODE_MASK  (NODE_SLOTS - 1)

#define ZR_CHUNK_MAX (1u << ZR_CHUNK_SHIFT_MAX)

/* A worker takes 256 KiB of chunks at a time (4 at 64 KiB, about 1 ms of
 * zstd:3 here): the pool lock is taken once per batch, and a trickle of
 * writes keeps one worker busy instead of waking one per chunk. */
#define POOL_BATCH_BYTES (256u << 10)

/* Fewest stages per worker, in batches: one batch compressing, one queued
 * behind it, so a worker never waits for the writer between batches. */
#define STAGES_PER_WORKER 2

/* Writers waiting for staging resume when 1/STAGE_WAKE_DIV of it is free
 * (stage_wake_at()). */
#define STAGE_WAKE_DIV 8

/* Most stages whatever -o staging says (1M: 4 GiB of 4 KiB chunks); keeps
 * the counters in unsigned. */
#define STAGES_MAX (1u << 20)

static inline unsigned pool_batch(unsigned chunk_shift)
{
	unsigned n = POOL_BATCH_BYTES >> chunk_shift;

	return n ? n : 1;
}

#define IDX_NONE UINT64_MAX

/* Writeback waits a worker makes for room before a chunk's ENOSPC stands
 * (each waits for one pass, at most WB_THROTTLE_MS). */
#define ENCODE_ROOM_TRIES 4

/* ---------------------------------------------------------------------
 * Records
 * ------------------------------------------------------------------- */

enum chunk_state {
	CS_HOLE = 0,
	CS_SAME = 1,
	CS_COMPRESSED = 2,
	CS_RAW = 3,
	CS_DIRTY = 4, /* stored as INFO_DIRTY; u.word points to a struct stage */
	CS_SPILLED = 5, /* INFO_SPILLED; u.obj: spill location + clen; the
			 * state bits keep COMPRESSED or RAW */
};

#define INFO_STATE_BITS	 2
#define INFO_CODEC_SHIFT 2
#define INFO_CODEC_MASK	 3u
#define INFO_DIRTY	 (1u << 4) /* first spare bit */
#define INFO_SPILLED	 (1u << 5) /* second spare bit */
#define INFO_RECOMP	 (1u << 6) /* the idle recompression has tried it */
#define INFO_DICT	 (1u << 7) /* coded against the store's dictionary for
				    * its codec (only with INFO_RECOMP) */
#define INFO_ULEN_SHIFT	 11 /* 21 bits: 0 .. 2^21-1 >= 1 MiB */

struct zr_chunk {
	uint32_t info; /* state | codec | ulen */
	uint32_t tick; /* reserved: writeback access tick */
	union {
		struct {
			zr_handle_t handle; /* arena object */
			uint32_t clen;	    /* its size */
		} obj;
		uint64_t word; /* SAME: the repeated word */
	} u;
};

_Static_assert(sizeof(struct zr_chunk) == 16, "chunk record must stay 16 bytes");
_Static_assert(ZR_CODEC_COUNT - 1 <= INFO_CODEC_MASK, "codec id field too small");
_Static_assert((1u << (32 - INFO_ULEN_SHIFT)) > ZR_CHUNK_MAX, "ulen field too small");

static inline unsigned rec_state(const struct zr_chunk *r)
{
	if (r->info & INFO_DIRTY)
		return CS_DIRTY;
	if (r->info & INFO_SPILLED)
		return CS_SPILLED;
	return r->info & ((1u << INFO_STATE_BITS) - 1);
}

static inline unsigned rec_codec(const struct zr_chunk *r)
{
	return (r->info >> INFO_CODEC_SHIFT) & INFO_CODEC_MASK;
}

static inline uint32_t rec_ulen(const struct zr_chunk *r)
{
	return r->info >> INFO_ULEN_SHIFT;
}

static inline bool rec_has_obj(const struct zr_chunk *r)
{
	return rec_state(r) == CS_COMPRESSED || rec_state(r) == CS_RAW;
}

static inline uint32_t make_info(unsigned state, unsigned codec, uint32_t ulen)
{
	assert(ulen > 0 && ulen <= ZR_CHUNK_MAX);
	assert(state != CS_SPILLED); /* spilled records are made by wb_chunk() */
	if (state == CS_DIRTY)
		return INFO_DIRTY | ulen << INFO_ULEN_SHIFT;
	return state | codec << INFO_CODEC_SHIFT | ulen << INFO_ULEN_SHIFT;
}

static void rec_set_ulen(struct zr_chunk *r, uint32_t ulen)
{
	r->info = make_info(rec_state(r), rec_codec(r), ulen);
}

/* ---------------------------------------------------------------------
 * Store and file
 * ------------------------------------------------------------------- */

struct zr_store {
	struct zr_arena *arena;
	unsigned chunk_shift;	     /* for new files */
	struct zr_codec_spec codec;  /* for new files */
	_Atomic uint64_t size_limit; /* 0 = none */
	_Atomic uint64_t orig;	     /* orig_data_size */
	_Atomic uint64_t compr;	     /* compr_data_size */
	_Atomic uint64_t chunks;
	_Atomic uint64_t same;
	_Atomic uint64_t huge;
	_Atomic uint64_t compressed;
	_Atomic uint64_t table; /* table_bytes */
	_Atomic uint64_t failed_reads;
	_Atomic uint64_t failed_writes;
	_Atomic uint64_t enospc;
	_Atomic uint64_t dirty;	       /* records in CS_DIRTY */
	/* Staging (see "Staging" below); pool is NULL in inline mode. */
	struct zr_pool *pool;
	unsigned workers;	       /* configured; 0 = inline */
	pthread_mutex_t stage_lock;    /* the fields below, and zr_fdata.inflight */
	pthread_cond_t free_cv;	       /* a stage was released, or none is queued */
	pthread_cond_t idle_cv;	       /* some file's inflight reached 0 */
	struct stage *free_stages;     /* allocated, unused */
	unsigned stages_max;	       /* the -o staging bound, in stages */
	unsigned stages_alloc;	       /* allocated (free + in use) */
	bool reserve_staging;	       /* allocate all stages at start */
	bool stages_reserved;	       /* all allocated up front, never trimmed */
	unsigned stages_queued;	       /* queued or being compressed */
	unsigned stages_free;	       /* on the free list */
	unsigned stage_waiters;	       /* writers waiting for stages */
	uint64_t stage_takes;	       /* stages handed out, ever */
	uint64_t stage_takes_seen;     /* ... at the last zr_store_trim_idle() */
	_Atomic uint64_t staging_bytes; /* stages_alloc * stage_bytes, for stats */
	_Atomic uint64_t writer_waits; /* writers that waited for a stage */
	/* Writeback tier (see "Writeback" below); spill NULL when off. */
	struct zr_spill *spill;
	_Atomic uint32_t clock;	       /* coarse access clock (zr_store_tick) */
	_Atomic uint64_t spilled;      /* records in CS_SPILLED */
	_Atomic uint64_t spill_bytes;  /* their clen sum */
	_Atomic uint64_t promoted;
	pthread_mutex_t files_lock;    /* files list, hands, busy */
	pthread_cond_t files_cv;       /* a file's busy count dropped */
	struct zr_fdata *files;	       /* every file (circular, NULL if none) */
	struct zr_fdata *hand;	       /* the writeback clock hand */
	unsigned nfiles;
	_Atomic uint64_t mem_limit;    /* RAM budget; 0 = none */
	_Atomic uint32_t idle;	       /* idle writeback age, s; 0 = off */
	pthread_mutex_t wb_lock;       /* the writeback thread's fields below */
	pthread_cond_t wb_cv;	       /* wakes the writeback thread */
	pthread_cond_t room_cv;	       /* a pressure pass ended */
	pthread_t wb_thread;
	bool wb_running, wb_stop, wb_kick;
	uint64_t wb_passes;	       /* pressure passes finished */
	bool wb_stalled;	       /* the last pressure pass freed nothing */
	/* Idle recompression (see "Idle recompression" below). */
	struct zr_codec_spec recomp[ZR_CODEC_COUNT]; /* by the chunk's codec id */
	uint32_t recomp_idle;	       /* background age, s; 0 = no thread */
	_Atomic uint64_t recomp_todo;  /* COMPRESSED records without INFO_RECOMP
					* whose codec has a recomp[] entry */
	_Atomic uint64_t recomp_done;  /* chunks re-encoded smaller */
	_Atomic uint64_t recomp_saved; /* arena bytes that saved */
	_Atomic uint32_t last_write;   /* clock of the latest write */
	_Atomic uint32_t rc_passes;    /* control passes, for zr_fdata.rc_claim */
	bool dict_on;		       /* train dictionaries (config) */
	pthread_mutex_t dict_lock;     /* one training at a time; dict_retry */
	uint64_t dict_retry[ZR_CODEC_COUNT]; /* no training before this many
					* chunks (after one that failed) */
	/* Set once (release) under dict_lock, freed with the store. */
	struct zr_codec_dict *_Atomic dict[ZR_CODEC_COUNT];
	struct zr_fdata *rc_hand;      /* its clock hand (files_lock) */
	pthread_mutex_t rc_lock;       /* with rc_cv, the thread's sleep */
	pthread_cond_t rc_cv;	       /* wakes the recompression thread */
	pthread_t rc_thread;
	bool rc_running;	       /* set and cleared by the owner's thread */
	_Atomic bool rc_stop;	       /* set under rc_lock; a sweep polls it */
};

/* A staging buffer: the newest bytes of one dirty chunk.  Its data and
 * version are only touched under the owning file's lock. */
struct stage {
	struct zr_job job;	 /* first: pool linkage (stage_job) */
	struct zr_fdata *f;	 /* owner while in use; fixed while queued */
	uint64_t idx;		 /* chunk index in f; fixed while in use */
	struct stage *next_free; /* free list link (stage_lock) */
	uint32_t version;	 /* bumped by every change of data or ulen */
	struct zr_codec_spec codec; /* the file's codec at the last change */
	bool queued;		 /* submitted and not finished by a worker */
	bool detached;		 /* the record no longer points here */
	bool busy;		 /* a worker is compressing data: it must not
				  * change (set by that worker under the file
				  * lock shared, cleared under it exclusive) */
	uint8_t data[];		 /* chunk size bytes */
};

static bool stage_job(struct zr_job *job);
static void files_link(struct zr_fdata *f);
static void files_unlink(struct zr_fdata *f);
static void *wb_main(void *arg);
static void promote_range(struct zr_fdata *f, uint64_t off, uint64_t len);
static void wb_stop(struct zr_store *s);
static void wb_throttle(struct zr_store *s);
static void *rc_main(void *arg);
static void rc_stop(struct zr_store *s);

struct fdata_counts {
	uint64_t orig;	/* sum of ulen, holes excluded */
	uint64_t compr; /* sum of clen */
	uint64_t chunks;
	uint64_t same;
	uint64_t huge;
	uint64_t compressed;
	uint64_t dirty;
	uint64_t spilled;
};

struct zr_fdata {
	struct zr_store *s;
	pthread_rwlock_t lock;
	_Atomic uint64_t size;
	_Atomic uint32_t codec; /* id | level << 8 */
	unsigned chunk_shift;	/* copied from the store */
	unsigned height;	/* interior levels above leaves */
	void *root;		/* leaf (height 0) or node */
	struct fdata_counts c;	/* under the write lock */
	int wb_err;		/* a worker's failure, for the next sync (lock) */
	unsigned inflight;	/* its stages queued or being compressed
				 * (store's stage_lock) */
	uint64_t objgen;	/* bumped when one of its arena objects is freed
				 * (write lock): writeback's ABA check */
	struct zr_fdata *wb_next, *wb_prev; /* store's files (files_lock) */
	unsigned busy;		/* writeback or recompression threads using
				 * it (files_lock) */
	_Atomic uint32_t rc_claim; /* the last recompression control pass
				    * that took it (rc_file_fn()) */
};

struct leaf {
	uint32_t cap;  /* records allocated */
	uint32_t live; /* non-hole records (>= 1) */
	struct zr_chunk rec[];
};

struct node {
	uint32_t count; /* non-NULL slots (>= 1) */
	void *slot[NODE_SLOTS];
};

static inline void ctr_add(_Atomic uint64_t *c, int64_t d)
{
	if (d >= 0)
		atomic_fetch_add_explicit(c, (uint64_t)d, memory_order_relaxed);
	else
		atomic_fetch_sub_explicit(c, (uint64_t)-d, memory_order_relaxed);
}

static inline uint64_t ctr_get(_Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* recomp_on(): some codec's chunks have a recompression codec. */
static inline bool recomp_on(const struct zr_store *s)
{
	for (unsigned i = 0; i < ZR_CODEC_COUNT; i++)
		if (s->recomp[i].id != ZR_CODEC_NONE)
			return true;
	return false;
}

/* rc_wanted(): the store runs the background recompression thread. */
static inline bool rc_wanted(const struct zr_store *s)
{
	return recomp_on(s) && s->recomp_idle;
}

/* note_write(): a write happened now (the idle recompression waits for a
 * quiet mount).  Checked first, so writers do not keep dirtying the line. */
static inline void note_write(struct zr_store *s)
{
	uint32_t now = atomic_load_explicit(&s->clock, memory_order_relaxed);

	if (atomic_load_explicit(&s->last_write, memory_order_relaxed) != now)
		atomic_store_explicit(&s->last_write, now, memory_order_relaxed);
}

static inline uint32_t chunk_size(const struct zr_fdata *f)
{
	return 1u << f->chunk_shift;
}

static inline uint64_t fsize(const struct zr_fdata *f)
{
	return atomic_load_explicit(&f->size, memory_order_acquire);
}

static inline void fsize_set(struct zr_fdata *f, uint64_t size)
{
	assert(size <= ZR_MAX_FILE_SIZE);
	atomic_store_explicit(&f->size, size, memory_order_release);
}

static inline uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static inline uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* ---------------------------------------------------------------------
 * Per-thread scratch
 * ------------------------------------------------------------------- */

struct scratch {
	struct zr_lifo_node node; /* in the pool; first: see lifo.h */
	uint8_t *plain; /* a decoded chunk */
	uint8_t *comp;	/* a compressed chunk */
	uint8_t *copy;	/* copy_file_range bounce buffer */
	uint8_t *spill;	/* a spilled extent read back, or one to write */
	uint32_t cap;	/* bytes of plain and comp */
	uint32_t copy_cap;
	uint32_t spill_cap;
};

/* Scratch records live in one pool for all threads: a use is a
 * scratch_get()/scratch_take() ... scratch_put() pair within one function.
 * Thread-local buffers could be freed only by their own thread, which may
 * sleep in libfuse's read() for hours; pooled, the housekeeper frees them
 * (scratch_trim()) once the store is idle.  LIFO, so the buffers used last
 * (cache-warm) go out first. */
static struct zr_lifo scratch_pool = ZR_LIFO_INIT;

static void scratch_free(struct scratch *sc)
{
	zr_free(sc->plain);
	zr_free(sc->comp);
	zr_free(sc->copy);
	zr_free(sc->spill);
	zr_free(sc);
}

/* scratch_take(): a scratch record, its buffers as a previous user left
 * them (maybe none).  NULL on ENOMEM. */
static struct scratch *scratch_take(void)
{
	struct scratch *sc = (struct scratch *)zr_lifo_pop(&scratch_pool);

	return sc ? sc : zr_calloc(1, sizeof(*sc));
}

static void scratch_put(struct scratch *sc)
{
	if (sc)
		zr_lifo_push(&scratch_pool, &sc->node);
}

/* scratch_trim(): free the pooled records (those not in use). */
static void scratch_trim(void)
{
	struct zr_lifo_node *n, *next;

	for (n = zr_lifo_take_all(&scratch_pool); n; n = next) {
		next = n->next;
		scratch_free((struct scratch *)n);
	}
}

/* scratch_get(): a scratch record whose plain and comp hold at least need
 * bytes (a chunk size); scratch_put() it when done.  NULL on ENOMEM. */
static struct scratch *scratch_get(uint32_t need)
{
	struct scratch *sc = scratch_take();

	if (!sc || sc->cap >= need)
		return sc;
	zr_free(sc->plain);
	zr_free(sc->comp);
	sc->plain = zr_malloc(need);
	sc->comp = zr_malloc(need);
	sc->cap = sc->plain && sc->comp ? need : 0;
	if (sc->cap)
		return sc;
	scratch_put(sc);
	return NULL;
}

/* scratch_spillbuf(): sc's extent buffer, at least need bytes. */
static uint8_t *scratch_spillbuf(struct scratch *sc, uint32_t need)
{
	if (sc->spill_cap < need) {
		zr_free(sc->spill);
		sc->spill = zr_malloc(need);
		sc->spill_cap = sc->spill ? need : 0;
	}
	return sc->spill;
}

static uint8_t *scratch_copybuf(struct scratch *sc, uint32_t need)
{
	if (sc->copy_cap < need) {
		zr_free(sc->copy);
		sc->copy = zr_malloc(need);
		sc->copy_cap = sc->copy ? need : 0;
	}
	return sc->copy;
}

/* ---------------------------------------------------------------------
 * Chunk table (radix tree)
 * ------------------------------------------------------------------- */

/* Bits of the index consumed below an interior node at height h. */
static inline unsigned child_shift(unsigned h)
{
	return LEAF_SHIFT + NODE_SHIFT * (h - 1);
}

/* Number of chunk indices a tree of height h covers. */
static inline uint64_t tree_span(unsigned h)
{
	return 1ULL << (LEAF_SHIFT + NODE_SHIFT * h);
}

static size_t leaf_bytes(uint32_t cap)
{
	return sizeof(struct leaf) + (size_t)cap * sizeof(struct zr_chunk);
}

static struct leaf *leaf_find(const struct zr_fdata *f, uint64_t idx)
{
	void *p = f->root;

	if (!p || idx >= tree_span(f->height))
		return NULL;
	for (unsigned h = f->height; h > 0 && p; h--)
		p = ((struct node *)p)->slot[(idx >> child_shift(h)) & NODE_MASK];
	return p;
}

static struct zr_chunk rec_get(const struct zr_fdata *f, uint64_t idx)
{
	static const struct zr_chunk hole;
	const struct leaf *l = leaf_find(f, idx);
	uint32_t i = idx & LEAF_MASK;

	struct zr_chunk r;

	if (!l || i >= l->cap)
		return hole;
	r.info = l->rec[i].info;
	r.tick = __atomic_load_n(&l->rec[i].tick, __ATOMIC_RELAXED);
	r.u = l->rec[i].u;
	return r;
}

/* rec_touch(): a read of idx sets its access tick (file lock shared: the
 * tick is the one field readers write, always atomically). */
static void rec_touch(const struct zr_fdata *f, uint64_t idx, uint32_t now)
{
	struct leaf *l = leaf_find(f, idx);
	uint32_t i = idx & LEAF_MASK;

	if (l && i < l->cap && __atomic_load_n(&l->rec[i].tick, __ATOMIC_RELAXED) != now)
		__atomic_store_n(&l->rec[i].tick, now, __ATOMIC_RELAXED);
}

static uint32_t ulen_at(const struct zr_fdata *f, uint64_t idx)
{
	struct zr_chunk r = rec_get(f, idx);

	return rec_ulen(&r);
}

static struct node *node_new(struct zr_fdata *f)
{
	struct node *n = zr_calloc(1, sizeof(*n));

	if (n)
		ctr_add(&f->s->table, sizeof(*n));
	return n;
}

static void node_free(struct zr_fdata *f, struct node *n)
{
	ctr_add(&f->s->table, -(int64_t)sizeof(*n));
	zr_free(n);
}

static void leaf_free(struct zr_fdata *f, struct leaf *l)
{
	ctr_add(&f->s->table, -(int64_t)leaf_bytes(l->cap));
	zr_free(l);
}

/* leaf_grow(): old (or NULL) with room for at least need records. */
static struct leaf *leaf_grow(struct zr_fdata *f, struct leaf *old, uint32_t need)
{
	uint32_t cap = old ? old->cap : 0, ncap = cap ? cap : LEAF_MIN_CAP;
	struct leaf *l;

	while (ncap < need)
		ncap *= 2;
	assert(ncap <= LEAF_RECS);
	l = zr_realloc(old, leaf_bytes(ncap));
	if (!l)
		return NULL;
	memset(&l->rec[cap], 0, (size_t)(ncap - cap) * sizeof(struct zr_chunk));
	if (!old)
		l->live = 0;
	l->cap = ncap;
	ctr_add(&f->s->table, (int64_t)(leaf_bytes(ncap) - (old ? leaf_bytes(cap) : 0)));
	return l;
}

/* prune_sub(): free the empty leaf and nodes on idx's path; returns p, or
 * NULL if p itself was freed. */
static void *prune_sub(struct zr_fdata *f, void *p, unsigned h, uint64_t idx)
{
	struct node *n = p;
	unsigned s;

	if (!p)
		return NULL;
	if (h == 0) {
		if (((struct leaf *)p)->live)
			return p;
		leaf_free(f, p);
		return NULL;
	}
	s = (idx >> child_shift(h)) & NODE_MASK;
	if (n->slot[s] && !prune_sub(f, n->slot[s], h - 1, idx)) {
		n->slot[s] = NULL;
		n->count--;
	}
	if (n->count)
		return n;
	node_free(f, n);
	return NULL;
}

static void tree_prune(struct zr_fdata *f, uint64_t idx)
{
	f->root = prune_sub(f, f->root, f->height, idx);
	while (f->root && f->height > 0) {
		struct node *n = f->root;

		if (n->count != 1 || !n->slot[0])
			break;
		f->root = n->slot[0];
		f->height--;
		node_free(f, n);
	}
	if (!f->root)
		f->height = 0;
}

static int tree_grow(struct zr_fdata *f, uint64_t idx)
{
	if (!f->root) {
		f->height = 0;
		while (idx >= tree_span(f->height))
			f->height++;
		return 0;
	}
	while (idx >= tree_span(f->height)) {
		struct node *n = node_new(f);

		if (!n)
			return -ENOMEM;
		n->slot[0] = f->root;
		n->count = 1;
		f->root = n;
		f->height++;
	}
	return 0;
}

/* leaf_ensure(): the leaf holding idx, created or grown as needed. */
static struct leaf *leaf_ensure(struct zr_fdata *f, uint64_t idx)
{
	struct node *parent = NULL;
	void **pp = &f->root;
	struct leaf *l;
	uint32_t i = idx & LEAF_MASK;

	if (tree_grow(f, idx))
		return NULL;
	for (unsigned h = f->height; h > 0; h--) {
		if (!*pp) {
			*pp = node_new(f);
			if (!*pp)
				goto fail;
			if (parent)
				parent->count++;
		}
		parent = *pp;
		pp = &parent->slot[(idx >> child_shift(h)) & NODE_MASK];
	}
	l = *pp;
	if (l && i < l->cap)
		return l;
	*pp = leaf_grow(f, l, i + 1);
	if (!*pp) {
		*pp = l;
		goto fail;
	}
	if (!l && parent)
		parent->count++;
	return *pp;
fail:
	tree_prune(f, idx);
	return NULL;
}

/* rec_store(): put r at idx.  Only a non-hole record can fail (-ENOMEM). */
static int rec_store(struct zr_fdata *f, uint64_t idx, const struct zr_chunk *r)
{
	uint32_t i = idx & LEAF_MASK;
	struct leaf *l;

	if (rec_state(r) == CS_HOLE) {
		l = leaf_find(f, idx);
		if (!l || i >= l->cap || rec_state(&l->rec[i]) == CS_HOLE)
			return 0;
		memset(&l->rec[i], 0, sizeof(l->rec[i]));
		assert(l->live > 0);
		if (--l->live == 0)
			tree_prune(f, idx);
		return 0;
	}
	l = leaf_ensure(f, idx);
	if (!l)
		return -ENOMEM;
	if (rec_state(&l->rec[i]) == CS_HOLE)
		l->live++;
	l->rec[i] = *r;
	if (!r->tick) /* a new record: accessed now */
		l->rec[i].tick = atomic_load_explicit(&f->s->clock, memory_order_relaxed);
	return 0;
}

static uint64_t scan_leaf(const struct leaf *l, uint64_t base, uint64_t start, bool hole)
{
	for (uint64_t i = start > base ? start - base : 0; i < LEAF_RECS; i++) {
		bool is_hole = i >= l->cap || rec_state(&l->rec[i]) == CS_HOLE;

		if (is_hole == hole)
			return base + i;
	}
	return IDX_NONE;
}

/* scan_sub(): first index >= start under p (covering from base) that is
 * a hole (hole) or holds data (!hole); IDX_NONE if none. */
static uint64_t scan_sub(const void *p, unsigned h, uint64_t base, uint64_t start, bool hole)
{
	const struct node *n = p;
	uint64_t span, r;

	if (!p)
		return hole ? max_u64(base, start) : IDX_NONE;
	if (h == 0)
		return scan_leaf(p, base, start, hole);
	span = 1ULL << child_shift(h);
	for (uint64_t s = start > base ? (start - base) / span : 0; s < NODE_SLOTS; s++) {
		r = scan_sub(n->slot[s], h - 1, base + s * span, start, hole);
		if (r != IDX_NONE)
			return r;
	}
	return IDX_NONE;
}

static uint64_t scan(const struct zr_fdata *f, uint64_t start, bool hole)
{
	uint64_t span = tree_span(f->height), r;

	if (start < span) {
		r = scan_sub(f->root, f->height, 0, start, hole);
		if (r != IDX_NONE)
			return r;
	}
	return hole ? max_u64(start, span) : IDX_NONE;
}

/* ---------------------------------------------------------------------
 * Staging buffers (allocation; the protocol is in the banner)
 * ------------------------------------------------------------------- */

static inline struct stage *rec_stage(const struct zr_chunk *r)
{
	assert(rec_state(r) == CS_DIRTY);
	return (struct stage *)(uintptr_t)r->u.word;
}

static size_t stage_bytes(const struct zr_store *s)
{
	return sizeof(struct stage) + ((size_t)1 << s->chunk_shift);
}

/* Stages free now or still to allocate. */
static unsigned stages_avail(const struct zr_store *s)
{
	return s->stages_free + (s->stages_max - s->stages_alloc);
}

/* Waiting writers are woken when this many stages are available, not one
 * by one: a writer woken per released stage would write one chunk and wait
 * again, a cross-CPU wake-up and a lock round trip per chunk (measured:
 * lz4 stream writes at 0.6x of inline).  An eighth of the bound lets a
 * woken writer finish its request (1 MiB = 16 chunks of 64 KiB). */
static unsigned stage_wake_at(const struct zr_store *s)
{
	unsigned n = s->stages_max / STAGE_WAKE_DIV;

	return n ? n : 1;
}

/* stage_free_locked(): put st on the free list.  stage_lock held. */
static void stage_free_locked(struct zr_store *s, struct stage *st)
{
	st->f = NULL;
	st->next_free = s->free_stages;
	s->free_stages = st;
	s->stages_free++;
	if (s->stage_waiters && stages_avail(s) == stage_wake_at(s))
		pthread_cond_broadcast(&s->free_cv);
}

static void stage_put(struct zr_store *s, struct stage *st)
{
	pthread_mutex_lock(&s->stage_lock);
	stage_free_locked(s, st);
	pthread_mutex_unlock(&s->stage_lock);
}

/* stage_unlink(): the record pointing to st was replaced (file lock held).
 * A queued stage is left to its worker, which sees detached and frees it. */
static void stage_unlink(struct zr_store *s, struct stage *st)
{
	if (st->queued)
		st->detached = true;
	else
		stage_put(s, st);
}

/* stage_alloc_locked(): a free or new stage, or NULL when the bound is
 * reached (or malloc failed).  stage_lock held (dropped around malloc). */
static struct stage *stage_alloc_locked(struct zr_store *s)
{
	struct stage *st = s->free_stages;

	if (st) {
		s->free_stages = st->next_free;
		s->stages_free--;
		s->stage_takes++;
		return st;
	}
	if (s->stages_alloc >= s->stages_max)
		return NULL;
	s->stages_alloc++;
	s->stage_takes++;
	pthread_mutex_unlock(&s->stage_lock);
	st = zr_fault(ZR_FAULT_STAGE_ALLOC) ? NULL : zr_malloc(stage_bytes(s));
	pthread_mutex_lock(&s->stage_lock);
	if (!st) {
		s->stages_alloc--;
		pthread_cond_broadcast(&s->free_cv);
		return NULL;
	}
	ctr_add(&s->staging_bytes, (int64_t)stage_bytes(s));
	st->job.fn = stage_job;
	return st;
}

/* stage_try_get(): a stage without waiting.  NULL and *wait_helps when
 * one will be released by a worker; NULL and !*wait_helps when waiting is
 * pointless (every stage is held by a chunk whose publish failed, or
 * malloc failed): the caller encodes inline instead. */
static struct stage *stage_try_get(struct zr_store *s, bool *wait_helps)
{
	struct stage *st;

	pthread_mutex_lock(&s->stage_lock);
	st = stage_alloc_locked(s);
	*wait_helps = !st && s->stages_queued > 0 && s->stages_alloc >= s->stages_max;
	pthread_mutex_unlock(&s->stage_lock);
	return st;
}

/* stage_get_wait(): a stage, waiting for workers to release one (no file
 * lock may be held: workers take file locks to publish).  NULL when
 * waiting is pointless, as stage_try_get(). */
static struct stage *stage_get_wait(struct zr_store *s)
{
	struct stage *st;

	pthread_mutex_lock(&s->stage_lock);
	if (!stages_avail(s) && s->stages_queued) {
		ctr_add(&s->writer_waits, 1);
		s->stage_waiters++;
		while (stages_avail(s) < stage_wake_at(s) && s->stages_queued)
			pthread_cond_wait(&s->free_cv, &s->stage_lock);
		s->stage_waiters--;
	}
	st = stage_alloc_locked(s);
	pthread_mutex_unlock(&s->stage_lock);
	return st;
}

/* stage_trim(): free the unused stages (after a drain). */
static void stage_trim(struct zr_store *s)
{
	struct stage *st;

	pthread_mutex_lock(&s->stage_lock);
	while (!s->stages_reserved && (st = s->free_stages)) {
		s->free_stages = st->next_free;
		s->stages_free--;
		s->stages_alloc--;
		ctr_add(&s->staging_bytes, -(int64_t)stage_bytes(s));
		zr_free(st);
	}
	pthread_cond_broadcast(&s->free_cv);
	pthread_mutex_unlock(&s->stage_lock);
}

/* ---------------------------------------------------------------------
 * Accounting
 * ------------------------------------------------------------------- */

/* account(): add (sign 1) or remove (-1) r's figures, except orig_data_size
 * in the store, which orig_reserve() keeps. */
static void account(struct zr_fdata *f, const struct zr_chunk *r, int sign)
{
	struct zr_store *s = f->s;
	int64_t ulen = rec_ulen(r), clen = 0;
	_Atomic uint64_t *kind;

	switch (rec_state(r)) {
	case CS_HOLE:
		return;
	case CS_SAME:
		kind = &s->same;
		f->c.same += (uint64_t)sign;
		break;
	case CS_COMPRESSED:
		kind = &s->compressed;
		f->c.compressed += (uint64_t)sign;
		clen = r->u.obj.clen;
		if (!(r->info & INFO_RECOMP) && s->recomp[rec_codec(r)].id != ZR_CODEC_NONE)
			ctr_add(&s->recomp_todo, sign); /* recomp[] never changes */
		break;
	case CS_DIRTY:
		kind = &s->dirty;
		f->c.dirty += (uint64_t)sign;
		break;
	case CS_SPILLED:
		kind = &s->spilled;
		f->c.spilled += (uint64_t)sign;
		ctr_add(&s->spill_bytes, sign * (int64_t)r->u.obj.clen);
		break;
	default:
		kind = &s->huge;
		f->c.huge += (uint64_t)sign;
		clen = r->u.obj.clen;
		break;
	}
	ctr_add(kind, sign);
	ctr_add(&s->chunks, sign);
	ctr_add(&s->compr, sign * clen);
	f->c.chunks += (uint64_t)sign;
	f->c.orig += (uint64_t)(sign * ulen);
	f->c.compr += (uint64_t)(sign * clen);
}

/* orig_reserve(): move orig_data_size by delta; a growth that would pass
 * the limit is refused with -ENOSPC and changes nothing. */
static int orig_reserve(struct zr_store *s, int64_t delta)
{
	uint64_t cur, limit;

	if (delta <= 0) {
		ctr_add(&s->orig, delta);
		return 0;
	}
	limit = ctr_get(&s->size_limit);
	cur = ctr_get(&s->orig);
	do {
		if (limit && cur + (uint64_t)delta > limit)
			return -ENOSPC;
	} while (!atomic_compare_exchange_weak_explicit(
	    &s->orig, &cur, cur + (uint64_t)delta, memory_order_relaxed, memory_order_relaxed));
	return 0;
}

static void orig_release(struct zr_store *s, int64_t delta)
{
	ctr_add(&s->orig, -delta);
}

static void obj_free(struct zr_store *s, const struct zr_chunk *r)
{
	if (rec_has_obj(r))
		zr_arena_free(s->arena, r->u.obj.handle);
}

/* rec_release(): free what a replaced record held: its arena object, or
 * its stage (at once, or by the worker that has it queued). */
static void rec_release(struct zr_fdata *f, const struct zr_chunk *r)
{
	if (rec_has_obj(r))
		f->objgen++;
	if (rec_state(r) == CS_SPILLED)
		zr_spill_free(f->s->spill, r->u.obj.handle, r->u.obj.clen);
	obj_free(f->s, r);
	if (rec_state(r) == CS_DIRTY)
		stage_unlink(f->s, rec_stage(r));
}

/* install(): replace old (the record at idx) with nr, whose ulen delta is
 * already reserved.  On failure nr's object is freed and old stays. */
static int install(struct zr_fdata *f, uint64_t idx, const struct zr_chunk *old,
		   const struct zr_chunk *nr)
{
	int ret = rec_store(f, idx, nr);

	if (ret) {
		rec_release(f, nr);
		return ret;
	}
	account(f, old, -1);
	account(f, nr, 1);
	rec_release(f, old);
	return 0;
}

/* rec_update(): idx's record (old) becomes nr, which holds the same object
 * or stage: only the figures change.  Cannot fail (the leaf exists). */
static void rec_update(struct zr_fdata *f, uint64_t idx, const struct zr_chunk *old,
		       const struct zr_chunk *nr)
{
	int ret = rec_store(f, idx, nr);

	assert(ret == 0 && rec_state(old) != CS_HOLE);
	(void)ret;
	account(f, old, -1);
	account(f, nr, 1);
}

/* drop_chunk(): make idx a hole, freeing what it held. */
static void drop_chunk(struct zr_fdata *f, uint64_t idx, const struct zr_chunk *old)
{
	static const struct zr_chunk hole;
	int ret = install(f, idx, old, &hole);

	assert(ret == 0);
	(void)ret;
	orig_release(f->s, rec_ulen(old));
}

/* ---------------------------------------------------------------------
 * Encoding and decoding
 * ------------------------------------------------------------------- */

#define WORD_REPEAT 0x0101010101010101ULL

/* same_filled(): whether p[0..len) is one 64-bit word repeated (the tail
 * following the word's first bytes); the word in *word.  Checks the first
 * and last words before the whole run: most data fails fast. */
static bool same_filled(const uint8_t *p, size_t len, uint64_t *word)
{
	size_t words = len / 8;
	uint64_t w, x;

	if (len < 8) {
		for (size_t i = 1; i < len; i++)
			if (p[i] != p[0])
				return false;
		*word = p[0] * WORD_REPEAT;
		return true;
	}
	memcpy(&w, p, 8);
	memcpy(&x, p + (words - 1) * 8, 8);
	if (x != w)
		return false;
	for (size_t i = 1; i + 1 < words; i++) {
		memcpy(&x, p + i * 8, 8);
		if (x != w)
			return false;
	}
	if (memcmp(p + words * 8, &w, len % 8))
		return false;
	*word = w;
	return true;
}

/* fill_word(): len bytes of the repeated word, starting at byte phase of
 * the pattern. */
static void fill_word(uint8_t *dst, size_t len, uint64_t word, size_t phase)
{
	const uint8_t *w = (const uint8_t *)&word;

	if (word == (word & 0xff) * WORD_REPEAT) {
		memset(dst, (int)(word & 0xff), len);
		return;
	}
	for (; len && (phase & 7); len--, phase++)
		*dst++ = w[phase & 7];
	for (; len >= 8; len -= 8, dst += 8)
		memcpy(dst, &word, 8);
	memcpy(dst, &word, len);
}

static struct zr_codec_spec codec_load(const struct zr_fdata *f)
{
	uint32_t v = atomic_load_explicit(&f->codec, memory_order_relaxed);
	struct zr_codec_spec spec = {.id = v & 0xff, .level = v >> 8};

	return spec;
}

/* compress(): > 0 the compressed length in sc->comp, 0 store raw, or
 * -ENOMEM.  A library error or bad spec stores raw rather than fail. */
static ssize_t compress_dict(struct zr_codec_spec spec, const struct zr_codec_dict *dict,
			     const void *data, uint32_t ulen, struct scratch *sc)
{
	size_t cap = ulen - ulen / RAW_SAVING_DIV;
	struct zr_codec_ctx *ctx;
	ssize_t n;

	if (spec.id == ZR_CODEC_NONE || cap == 0)
		return 0;
	ctx = zr_codec_ctx_get();
	if (!ctx)
		return -ENOMEM;
	n = zr_codec_compress_dict(ctx, spec, dict, data, ulen, sc->comp, cap);
	zr_codec_ctx_put(ctx);
	if (n == -ENOMEM)
		return n;
	return n > 0 ? n : 0;
}

static ssize_t compress(struct zr_codec_spec spec, const void *data, uint32_t ulen,
			struct scratch *sc)
{
	return compress_dict(spec, NULL, data, ulen, sc);
}

/* rec_dict(): the dictionary r's object is coded against, or NULL.  A
 * record gets INFO_DICT only after the dictionary was published, and the
 * file lock that hands the record to a reader orders the two. */
static const struct zr_codec_dict *rec_dict(struct zr_store *s, const struct zr_chunk *r)
{
	if (!(r->info & INFO_DICT))
		return NULL;
	return atomic_load_explicit(&s->dict[rec_codec(r)], memory_order_acquire);
}

/* decompress_head(): clen bytes of r's object (at src) into dst, at least
 * its first want bytes (codecs that cannot stop early give all ulen).
 * -EIO if they do not decode, -ENOMEM without a codec context. */
static int decompress_head(struct zr_store *s, const struct zr_chunk *r, const void *src,
			   uint32_t clen, uint8_t *dst, uint32_t want)
{
	struct zr_codec_ctx *ctx = zr_codec_ctx_get();
	const struct zr_codec_dict *dict = rec_dict(s, r);
	int ret;

	if (!ctx)
		return -ENOMEM;
	if ((r->info & INFO_DICT) && !dict)
		ret = -EIO; /* cannot happen: the dictionary outlives its records */
	else
		ret = zr_codec_decompress_head(ctx, rec_codec(r), dict, src, clen, dst,
					       want, rec_ulen(r));

	zr_codec_ctx_put(ctx);
	return ret;
}

/* decompress(): all of r's ulen bytes. */
static int decompress(struct zr_store *s, const struct zr_chunk *r, const void *src,
		      uint32_t clen, uint8_t *dst)
{
	return decompress_head(s, r, src, clen, dst, rec_ulen(r));
}

/* obj_new(): an arena object holding src[0..len).  The arena's -ENOSPC
 * (its cap) stays -ENOSPC; anything else (-ENOMEM, or -EINVAL for an object
 * larger than the arena's max_object) is -ENOMEM to the writer. */
static int obj_new(struct zr_store *s, const void *src, uint32_t len, zr_handle_t *h)
{
	int ret = zr_arena_alloc(s->arena, len, h);

	if (ret)
		return ret == -ENOSPC ? -ENOSPC : -ENOMEM;
	zr_arena_write(s->arena, *h, src, len);
	return 0;
}

/* encode(): build a record for data[0..ulen): SAME, COMPRESSED or RAW,
 * with its arena object allocated and written. */
static int encode(struct zr_fdata *f, struct zr_codec_spec spec, const uint8_t *data,
		  uint32_t ulen, struct scratch *sc, struct zr_chunk *r)
{
	const void *src = data;
	uint32_t len = ulen;
	unsigned state = CS_RAW, codec = ZR_CODEC_NONE;
	uint64_t word;
	ssize_t n;
	int ret;

	memset(r, 0, sizeof(*r));
	if (same_filled(data, ulen, &word)) {
		r->info = make_info(CS_SAME, ZR_CODEC_NONE, ulen);
		r->u.word = word;
		return 0;
	}
	n = compress(spec, data, ulen, sc);
	if (n < 0)
		return (int)n;
	if (n > 0) {
		src = sc->comp;
		len = (uint32_t)n;
		state = CS_COMPRESSED;
		codec = spec.id;
	}
	ret = obj_new(f->s, src, len, &r->u.obj.handle);
	if (ret)
		return ret;
	assert(r->u.obj.handle != ZR_HANDLE_NONE);
	r->info = make_info(state, codec, ulen);
	r->u.obj.clen = len;
	return 0;
}

/* Spilled chunks read again (not for the first time since they were
 * spilled) by this thread's read: zr_fdata_read() promotes them after. */
static __thread unsigned tl_spill_reads;

/* The tick of a spilled chunk not read since: the clock starts above it. */
#define TICK_SPILLED 1u

/* decode_spilled(): a spilled chunk's ulen bytes into dst: pread (into a
 * buffer of its own: callers decode into the scratch's plain), verify,
 * decompress.  -EIO for a failed or corrupt extent. */
static int decode_spilled(struct zr_fdata *f, const struct zr_chunk *r, uint8_t *dst)
{
	uint8_t *buf;
	uint32_t ulen = rec_ulen(r), clen = r->u.obj.clen;
	struct scratch *sc;
	int ret;

	if (!f->s->spill)
		return -EIO;
	if ((r->info & ((1u << INFO_STATE_BITS) - 1)) == CS_RAW) {
		ret = zr_spill_read(f->s->spill, r->u.obj.handle, dst, ulen);
		return ret;
	}
	sc = scratch_take();
	buf = sc ? scratch_spillbuf(sc, chunk_size(f)) : NULL;
	ret = buf ? zr_spill_read(f->s->spill, r->u.obj.handle, buf, clen) : -ENOMEM;
	if (!ret)
		ret = decompress(f->s, r, buf, clen, dst);
	scratch_put(sc);
	return ret;
}

/* decode_head(): at least the first want bytes of r into dst (all ulen
 * but for a compressed chunk in the arena).  -EIO if the object is
 * corrupt. */
static int decode_head(struct zr_fdata *f, const struct zr_chunk *r, uint8_t *dst,
		       uint32_t want)
{
	struct zr_arena *a = f->s->arena;
	uint32_t ulen = rec_ulen(r);
	const void *p;
	int ret = 0;

	switch (rec_state(r)) {
	case CS_HOLE:
		return 0;
	case CS_SAME:
		fill_word(dst, ulen, r->u.word, 0);
		return 0;
	case CS_DIRTY:
		memcpy(dst, rec_stage(r)->data, ulen);
		return 0;
	case CS_SPILLED:
		return decode_spilled(f, r, dst);
	}
	p = zr_arena_read_begin(a, r->u.obj.handle);
	if (!p)
		return -EIO;
	if (rec_state(r) == CS_RAW)
		memcpy(dst, p, ulen);
	else
		ret = decompress_head(f->s, r, p, r->u.obj.clen, dst, want);
	zr_arena_read_end(a, r->u.obj.handle);
	return ret;
}

/* decode(): r's ulen bytes into dst.  -EIO if the object is corrupt. */
static int decode(struct zr_fdata *f, const struct zr_chunk *r, uint8_t *dst)
{
	return decode_head(f, r, dst, rec_ulen(r));
}

/* load_chunk(): the chunk's first len bytes (len >= its ulen) into buf,
 * zeros past ulen. */
static int load_chunk(struct zr_fdata *f, const struct zr_chunk *r, uint8_t *buf, uint32_t len)
{
	uint32_t ulen = rec_ulen(r);
	int ret = decode(f, r, buf);

	if (ret)
		return ret;
	if (len > ulen)
		memset(buf + ulen, 0, len - ulen);
	return 0;
}

/* store_chunk(): replace chunk idx (now old) by data[0..ulen). */
static int store_chunk(struct zr_fdata *f, uint64_t idx, const struct zr_chunk *old,
		       const uint8_t *data, uint32_t ulen, struct scratch *sc)
{
	int64_t delta = (int64_t)ulen - rec_ulen(old);
	struct zr_chunk nr;
	int ret;

	ret = orig_reserve(f->s, delta);
	if (ret)
		return ret;
	ret = encode(f, codec_load(f), data, ulen, sc, &nr);
	if (!ret)
		ret = install(f, idx, old, &nr);
	if (ret)
		orig_release(f->s, delta);
	return ret;
}

/* ---------------------------------------------------------------------
 * Read and write (file lock held)
 * ------------------------------------------------------------------- */

/* read_chunk(): n bytes at in_off of chunk idx into dst. */
static int read_chunk(struct zr_fdata *f, uint64_t idx, uint8_t *dst, uint32_t in_off, uint32_t n)
{
	struct zr_chunk r = rec_get(f, idx);
	uint32_t ulen = rec_ulen(&r), have = 0;
	struct zr_arena *a = f->s->arena;
	struct scratch *sc;
	const uint8_t *p;
	int ret;

	if (in_off < ulen)
		have = n < ulen - in_off ? n : ulen - in_off;
	memset(dst + have, 0, n - have);
	if (!have)
		return 0;
	switch (rec_state(&r)) {
	case CS_SAME:
		fill_word(dst, have, r.u.word, in_off);
		return 0;
	case CS_DIRTY:
		memcpy(dst, rec_stage(&r)->data + in_off, have);
		return 0;
	case CS_RAW:
		p = zr_arena_read_begin(a, r.u.obj.handle);
		if (!p)
			return -EIO;
		memcpy(dst, p + in_off, have);
		zr_arena_read_end(a, r.u.obj.handle);
		return 0;
	}
	if (in_off == 0 && have == ulen)
		return decode(f, &r, dst);
	sc = scratch_get(chunk_size(f));
	if (!sc)
		return -ENOMEM;
	ret = decode_head(f, &r, sc->plain, in_off + have);
	if (!ret)
		memcpy(dst, sc->plain + in_off, have);
	scratch_put(sc);
	return ret;
}

static ssize_t read_locked(struct zr_fdata *f, uint8_t *buf, size_t len, uint64_t off)
{
	uint64_t size = fsize(f), pos;
	uint32_t cs = chunk_size(f), in_off, n;
	size_t done;
	int ret;

	if (off >= size || len == 0)
		return 0;
	len = (size_t)min_u64(len, size - off);
	for (done = 0; done < len; done += n) {
		pos = off + done;
		in_off = (uint32_t)(pos & (cs - 1));
		n = (uint32_t)min_u64(cs - in_off, len - done);
		ret = read_chunk(f, pos >> f->chunk_shift, buf + done, in_off, n);
		if (ret) {
			if (ret == -EIO)
				ctr_add(&f->s->failed_reads, 1);
			return ret;
		}
		if (f->s->spill) {
			struct zr_chunk r = rec_get(f, pos >> f->chunk_shift);

			/* read before since it was spilled: hot again */
			if (rec_state(&r) == CS_SPILLED && r.tick != TICK_SPILLED)
				tl_spill_reads++;
			rec_touch(f, pos >> f->chunk_shift,
				  atomic_load_explicit(&f->s->clock, memory_order_relaxed));
		}
	}
	return (ssize_t)len;
}

/* What a write (or copy) carries between chunks and lock drops: a spare
 * stage got while unlocked, and the stages to submit before unlocking. */
struct wctx {
	struct stage *spare;	/* owned, not yet in a record */
	struct zr_job *head;	/* stages to submit, in order */
	struct zr_job *tail;
	unsigned n;
	bool can_wait;		/* the caller may unlock and wait for a stage */
	bool need_stage;	/* stopped: no stage free, waiting helps */
	bool force_inline;	/* no stage will come: encode in this thread */
};

static void stage_submit(struct zr_fdata *f, struct wctx *w);

/* stage_touch(): st changed (file lock held): a new version, and queued
 * again if no worker has it (w NULL: submitted at once). */
static void stage_touch(struct zr_fdata *f, struct stage *st, struct wctx *w)
{
	struct wctx one = {0};

	st->version++;
	st->codec = codec_load(f); /* "codec for future writes", as inline */
	if (st->queued)
		return;
	st->queued = true;
	st->job.next = NULL;
	if (!w)
		w = &one;
	if (w->tail)
		w->tail->next = &st->job;
	else
		w->head = &st->job;
	w->tail = &st->job;
	w->n++;
	if (w == &one)
		stage_submit(f, w);
}

/* stage_submit(): hand w's stages to the pool (file lock held: the pool's
 * capacity covers every stage, so this never waits). */
static void stage_submit(struct zr_fdata *f, struct wctx *w)
{
	struct zr_store *s = f->s;

	if (!w->n)
		return;
	pthread_mutex_lock(&s->stage_lock);
	f->inflight += w->n;
	s->stages_queued += w->n;
	pthread_mutex_unlock(&s->stage_lock);
	zr_pool_submit(s->pool, w->head, w->n);
	w->head = w->tail = NULL;
	w->n = 0;
}

/* dirty_resize(): the dirty record old at idx now stores ulen bytes. */
static void dirty_resize(struct zr_fdata *f, uint64_t idx, const struct zr_chunk *old,
			 uint32_t ulen, struct wctx *w)
{
	struct zr_chunk nr = *old;

	rec_set_ulen(&nr, ulen);
	rec_update(f, idx, old, &nr);
	stage_touch(f, rec_stage(old), w);
}

/* write_dirty(): patch a dirty chunk's stage in place. */
static int write_dirty(struct zr_fdata *f, uint64_t idx, const struct zr_chunk *old,
		       const uint8_t *src, uint32_t in_off, uint32_t n, struct wctx *w)
{
	struct stage *st = rec_stage(old);
	uint32_t oul = rec_ulen(old), nul = in_off + n > oul ? in_off + n : oul;
	int ret = orig_reserve(f->s, (int64_t)nul - oul);

	if (ret)
		return ret;
	if (in_off > oul)
		memset(st->data + oul, 0, in_off - oul);
	memcpy(st->data + in_off, src, n);
	dirty_resize(f, idx, old, nul, w);
	return 0;
}

/* write_staged(): the chunk old at idx becomes dirty in stage st (taken
 * by this call in every case). */
static int write_staged(struct zr_fdata *f, uint64_t idx, const struct zr_chunk *old,
			struct stage *st, const uint8_t *src, uint32_t in_off, uint32_t n,
			struct wctx *w)
{
	uint32_t oul = rec_ulen(old), nul = in_off + n > oul ? in_off + n : oul;
	int64_t delta = (int64_t)nul - oul;
	struct zr_chunk nr;
	int ret = orig_reserve(f->s, delta);

	if (ret) {
		stage_put(f->s, st);
		return ret;
	}
	if (!(in_off == 0 && n >= oul)) {
		ret = load_chunk(f, old, st->data, nul); /* read-modify-write */
		if (ret) {
			orig_release(f->s, delta);
			stage_put(f->s, st);
			return ret;
		}
	}
	memcpy(st->data + in_off, src, n);
	st->f = f;
	st->idx = idx;
	st->version = 0;
	st->queued = false;
	st->detached = false;
	st->busy = false;
	memset(&nr, 0, sizeof(nr));
	nr.info = make_info(CS_DIRTY, 0, nul);
	nr.u.word = (uintptr_t)st;
	ret = install(f, idx, old, &nr); /* on failure, st is put back */
	if (ret) {
		orig_release(f->s, delta);
		return ret;
	}
	stage_touch(f, st, w);
	return 0;
}

/* write_inline(): n bytes of src at in_off of chunk idx, encoded here. */
static int write_inline(struct zr_fdata *f, uint64_t idx, const struct zr_chunk *old,
			const uint8_t *src, uint32_t in_off, uint32_t n)
{
	uint32_t oul = rec_ulen(old), nul = in_off + n > oul ? in_off + n : oul;
	struct scratch *sc = scratch_get(chunk_size(f));
	int ret;

	if (!sc)
		return -ENOMEM;
	if (in_off == 0 && n >= oul) {
		ret = store_chunk(f, idx, old, src, n, sc);
	} else {
		ret = load_chunk(f, old, sc->plain, nul);
		if (!ret) {
			memcpy(sc->plain + in_off, src, n);
			ret = store_chunk(f, idx, old, sc->plain, nul, sc);
		}
	}
	scratch_put(sc);
	return ret;
}

/* write_chunk(): n bytes of src at in_off of chunk idx: into its stage if
 * dirty, else into a new stage, else (inline mode, or no stage will come)
 * encoded here.  -EAGAIN: no stage now; the caller waits for one. */
static int write_chunk(struct zr_fdata *f, uint64_t idx, const uint8_t *src, uint32_t in_off,
		       uint32_t n, struct wctx *w)
{
	struct zr_chunk old = rec_get(f, idx);
	struct stage *st;
	bool wait_helps;

	if (rec_state(&old) == CS_DIRTY && !rec_stage(&old)->busy)
		return write_dirty(f, idx, &old, src, in_off, n, w);
	/* else a new stage (or inline): a busy stage is read by its worker */
	if (!f->s->pool || w->force_inline)
		return write_inline(f, idx, &old, src, in_off, n);
	st = w->spare;
	w->spare = NULL;
	if (!st)
		st = stage_try_get(f->s, &wait_helps);
	if (st)
		return write_staged(f, idx, &old, st, src, in_off, n, w);
	if (wait_helps && w->can_wait)
		return -EAGAIN;
	return write_inline(f, idx, &old, src, in_off, n);
}

static ssize_t write_locked(struct zr_fdata *f, const uint8_t *buf, size_t len, uint64_t off,
			    struct wctx *w)
{
	uint32_t cs = chunk_size(f), in_off, n;
	size_t done;
	uint64_t pos;
	int ret = 0;

	if (len == 0)
		return 0;
	if (off >= ZR_MAX_FILE_SIZE)
		return -EFBIG;
	len = (size_t)min_u64(len, ZR_MAX_FILE_SIZE - off);
	for (done = 0; done < len; done += n) {
		pos = off + done;
		in_off = (uint32_t)(pos & (cs - 1));
		n = (uint32_t)min_u64(cs - in_off, len - done);
		ret = write_chunk(f, pos >> f->chunk_shift, buf + done, in_off, n, w);
		if (ret)
			break;
	}
	if (done && off + done > fsize(f))
		fsize_set(f, off + done);
	if (ret == -EAGAIN) {
		w->need_stage = true;
		return (ssize_t)done;
	}
	if (ret) {
		ctr_add(&f->s->failed_writes, 1);
		if (ret == -ENOSPC)
			ctr_add(&f->s->enospc, 1);
	}
	return done ? (ssize_t)done : ret;
}

/* ---------------------------------------------------------------------
 * Workers
 * ------------------------------------------------------------------- */

/* stage_done(): a worker is finished with a queued stage of f (file lock
 * not held: after this, f may be destroyed).  st is freed unless NULL (it
 * stays with its dirty chunk after a failed publish). */
static void stage_done(struct zr_store *s, struct zr_fdata *f, struct stage *st)
{
	pthread_mutex_lock(&s->stage_lock);
	if (st)
		stage_free_locked(s, st);
	if (--s->stages_queued == 0)
		pthread_cond_broadcast(&s->free_cv); /* waiting may be pointless now */
	if (--f->inflight == 0)
		pthread_cond_broadcast(&s->idle_cv);
	pthread_mutex_unlock(&s->stage_lock);
}

/* publish(): install the encoded nr for st's chunk, version ver, unless
 * the chunk changed or went away meanwhile.  File lock held.  Returns true
 * when st must be compressed again (a newer version). */
static bool publish(struct zr_fdata *f, struct stage *st, uint32_t ver, int enc,
		    struct zr_chunk *nr)
{
	struct zr_chunk old;
	int ret;

	if (st->detached || st->version != ver) {
		if (!enc)
			obj_free(f->s, nr);
		return !st->detached;
	}
	if (enc) {
		st->queued = false; /* stays dirty; the next write retries */
		f->wb_err = enc;
		ctr_add(&f->s->failed_writes, 1);
		if (enc == -ENOSPC)
			ctr_add(&f->s->enospc, 1);
		return false;
	}
	old = rec_get(f, st->idx);
	assert(rec_state(&old) == CS_DIRTY && rec_stage(&old) == st);
	ret = install(f, st->idx, &old, nr); /* marks st detached */
	assert(ret == 0 && st->detached);
	(void)ret;
	return false;
}

/* stage_job(): the pool's callback: snapshot the stage under the file
 * lock, encode it unlocked, publish under the lock. */
/* encode() for a worker, which holds no lock: when the arena's cap
 * refuses the object and a spill can make room, wait for writeback passes
 * (as a throttled writer would) and try again.  A writer throttles once
 * per write, so a large write can overshoot the high watermark by up to
 * its own size; with a small mem_limit that reached the cap itself. */
static int encode_room(struct zr_fdata *f, struct zr_codec_spec spec, const uint8_t *data,
		       uint32_t ulen, struct scratch *sc, struct zr_chunk *nr)
{
	int enc = encode(f, spec, data, ulen, sc, nr);

	for (int tries = 0; enc == -ENOSPC && f->s->spill && tries < ENCODE_ROOM_TRIES; tries++) {
		wb_throttle(f->s);
		enc = encode(f, spec, data, ulen, sc, nr);
	}
	return enc;
}

static bool stage_job(struct zr_job *job)
{
	struct stage *st = (struct stage *)job;
	struct zr_fdata *f = st->f;
	struct scratch *sc = scratch_get(chunk_size(f));
	struct zr_chunk r, nr;
	struct zr_codec_spec spec = {0, 0};
	uint32_t ver = 0, ulen = 0;
	bool again, release;
	int enc = -ENOMEM;

	pthread_rwlock_rdlock(&f->lock);
	/* the version even without scratch: publish() then keeps the chunk
	 * dirty with -ENOMEM instead of requeueing it forever */
	ver = st->version;
	if (!st->detached && sc) {
		r = rec_get(f, st->idx);
		ulen = rec_ulen(&r);
		spec = st->codec;
		st->busy = true; /* writers now leave data alone */
	}
	pthread_rwlock_unlock(&f->lock);
	if (ulen)
		enc = encode_room(f, spec, st->data, ulen, sc, &nr);
	scratch_put(sc);
	pthread_rwlock_wrlock(&f->lock);
	st->busy = false;
	again = publish(f, st, ver, enc, &nr);
	release = st->detached; /* else st stays with its chunk, unqueued */
	pthread_rwlock_unlock(&f->lock);
	if (again)
		return true;
	stage_done(f->s, f, release ? st : NULL);
	return false;
}

/* ---------------------------------------------------------------------
 * Store
 * ------------------------------------------------------------------- */

/* stages_for(): the staging bound in stages: -o staging over the chunk
 * size, but at least STAGES_PER_WORKER batches per worker so that every
 * worker has work while writers fill more. */
static unsigned stages_for(const struct zr_store_config *cfg)
{
	uint64_t bytes = cfg->staging_bytes ? cfg->staging_bytes : ZR_STAGING_DEFAULT;
	uint64_t n = bytes >> cfg->chunk_shift;
	uint64_t min = (uint64_t)STAGES_PER_WORKER * (cfg->workers ? cfg->workers : 1) *
		       pool_batch(cfg->chunk_shift);

	n = n > min ? n : min;
	return n > STAGES_MAX ? STAGES_MAX : (unsigned)n;
}

struct zr_store *zr_store_create(const struct zr_store_config *cfg)
{
	struct zr_store *s;

	if (!cfg || !cfg->arena || cfg->chunk_shift < ZR_CHUNK_SHIFT_MIN ||
	    cfg->chunk_shift > ZR_CHUNK_SHIFT_MAX || !zr_codec_spec_valid(cfg->codec))
		return NULL;
	s = zr_calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->arena = cfg->arena;
	s->chunk_shift = cfg->chunk_shift;
	s->codec = cfg->codec;
	atomic_init(&s->size_limit, cfg->size_limit);
	s->workers = cfg->workers < ZR_POOL_MAX_WORKERS ? cfg->workers : ZR_POOL_MAX_WORKERS;
	s->stages_max = stages_for(cfg);
	s->reserve_staging = cfg->reserve_staging;
	pthread_mutex_init(&s->stage_lock, NULL);
	pthread_cond_init(&s->free_cv, NULL);
	pthread_cond_init(&s->idle_cv, NULL);
	s->spill = cfg->spill;
	atomic_init(&s->clock, TICK_SPILLED + 1);
	atomic_init(&s->mem_limit, cfg->mem_limit);
	atomic_init(&s->idle, cfg->idle);
	pthread_mutex_init(&s->files_lock, NULL);
	pthread_cond_init(&s->files_cv, NULL);
	pthread_mutex_init(&s->wb_lock, NULL);
	pthread_cond_init(&s->wb_cv, NULL);
	pthread_cond_init(&s->room_cv, NULL);
	memcpy(s->recomp, cfg->recomp, sizeof(s->recomp));
	s->recomp_idle = cfg->recomp_idle;
	s->dict_on = cfg->recomp_dict;
	pthread_mutex_init(&s->dict_lock, NULL);
	pthread_mutex_init(&s->rc_lock, NULL);
	pthread_cond_init(&s->rc_cv, NULL);
	return s;
}

/* Allocates every stage and touches its pages now, so that a write
 * (a swap-out) never waits for memory to stage a chunk. */
static void stages_reserve(struct zr_store *s)
{
	struct stage *st;

	struct stage *held = NULL;

	pthread_mutex_lock(&s->stage_lock);
	/* hold each one taken, so the next call must allocate a new one */
	while ((st = stage_alloc_locked(s))) {
		memset(st->data, 0, (size_t)1 << s->chunk_shift);
		st->next_free = held;
		held = st;
	}
	while ((st = held)) {
		held = st->next_free;
		stage_free_locked(s, st);
	}
	s->stages_reserved = true;
	pthread_mutex_unlock(&s->stage_lock);
}

int zr_store_start(struct zr_store *s)
{
	unsigned batch = pool_batch(s->chunk_shift);
	struct zr_pool_config pc = {
	    .workers = s->workers,
	    .batch = batch,
	    /* a stage is queued at most once, but a finished job still counts
	     * as running until its worker's batch returns */
	    .capacity = s->stages_max + s->workers * batch,
	};

	if (s->spill && !s->wb_running) {
		if (pthread_create(&s->wb_thread, NULL, wb_main, s))
			return -EAGAIN;
		pthread_mutex_lock(&s->wb_lock);
		s->wb_running = true;
		pthread_mutex_unlock(&s->wb_lock);
	}
	if (rc_wanted(s) && !s->rc_running) {
		if (pthread_create(&s->rc_thread, NULL, rc_main, s))
			return -EAGAIN;
		s->rc_running = true;
	}
	if (!s->workers || s->pool)
		return 0;
	s->pool = zr_pool_create(&pc);
	if (s->pool && s->reserve_staging)
		stages_reserve(s);
	return s->pool ? 0 : -EAGAIN;
}

void zr_store_sync(struct zr_store *s)
{
	bool idle;

	if (!s->pool)
		return;
	zr_pool_drain(s->pool);
	pthread_mutex_lock(&s->stage_lock);
	idle = s->stages_queued == 0;
	pthread_mutex_unlock(&s->stage_lock);
	if (idle)
		stage_trim(s); /* not during a burst: stages would be remade */
}

void zr_store_trim_idle(struct zr_store *s)
{
	bool idle;

	pthread_mutex_lock(&s->stage_lock);
	/* not with -o mlock (reserved stages): a swap-out must not wait for
	 * malloc */
	idle = s->stages_queued == 0 && s->stage_takes == s->stage_takes_seen &&
	       !s->stages_reserved;
	s->stage_takes_seen = s->stage_takes;
	pthread_mutex_unlock(&s->stage_lock);
	if (!idle)
		return;
	stage_trim(s);
	scratch_trim();
	zr_codec_trim();
}

void zr_store_destroy(struct zr_store *s)
{
	if (!s)
		return;
	wb_stop(s);
	rc_stop(s);
	zr_pool_destroy(s->pool); /* runs what is queued; no file may remain */
	s->pool = NULL;
	s->stages_reserved = false;	/* the reserve goes too */
	stage_trim(s);
	assert(s->stages_alloc == 0 && s->stages_queued == 0);
	pthread_cond_destroy(&s->idle_cv);
	pthread_cond_destroy(&s->free_cv);
	pthread_mutex_destroy(&s->stage_lock);
	assert(!s->files);
	pthread_cond_destroy(&s->files_cv);
	pthread_mutex_destroy(&s->files_lock);
	pthread_cond_destroy(&s->room_cv);
	pthread_cond_destroy(&s->wb_cv);
	pthread_mutex_destroy(&s->wb_lock);
	pthread_cond_destroy(&s->rc_cv);
	pthread_mutex_destroy(&s->rc_lock);
	for (unsigned c = 0; c < ZR_CODEC_COUNT; c++)
		zr_codec_dict_free(atomic_load_explicit(&s->dict[c], memory_order_relaxed));
	pthread_mutex_destroy(&s->dict_lock);
	zr_free(s);
}

void zr_store_get_stats(struct zr_store *s, struct zr_store_stats *st)
{
	st->orig_data_size = ctr_get(&s->orig);
	st->compr_data_size = ctr_get(&s->compr);
	st->chunks = ctr_get(&s->chunks);
	st->same_chunks = ctr_get(&s->same);
	st->huge_chunks = ctr_get(&s->huge);
	st->compressed_chunks = ctr_get(&s->compressed);
	st->table_bytes = ctr_get(&s->table);
	st->failed_reads = ctr_get(&s->failed_reads);
	st->failed_writes = ctr_get(&s->failed_writes);
	st->enospc_events = ctr_get(&s->enospc);
	st->dirty_chunks = ctr_get(&s->dirty);
	st->staging_bytes = ctr_get(&s->staging_bytes);
	st->staging_limit = (uint64_t)s->stages_max << s->chunk_shift;
	st->writer_waits = ctr_get(&s->writer_waits);
	st->spilled_chunks = ctr_get(&s->spilled);
	st->spill_bytes = ctr_get(&s->spill_bytes);
	st->promoted_chunks = ctr_get(&s->promoted);
	st->mem_limit = ctr_get(&s->mem_limit);
	st->recompress_pending = ctr_get(&s->recomp_todo); /* 0 when off: account() */
	st->recompressed_chunks = ctr_get(&s->recomp_done);
	st->recompress_saved_bytes = ctr_get(&s->recomp_saved);
	st->dict_bytes = 0;
	for (unsigned c = 0; c < ZR_CODEC_COUNT; c++)
		st->dict_bytes += zr_codec_dict_bytes(
			atomic_load_explicit(&s->dict[c], memory_order_acquire));
	st->workers = s->pool ? s->workers : 0;
	st->pool_queued = st->pool_running = st->pool_jobs_done = st->pool_wakeups = 0;
	if (s->pool) {
		struct zr_pool_stats ps;

		zr_pool_get_stats(s->pool, &ps);
		st->pool_queued = ps.queued;
		st->pool_running = ps.running;
		st->pool_jobs_done = ps.done;
		st->pool_wakeups = ps.wakeups;
	}
}

void zr_store_set_size_limit(struct zr_store *s, uint64_t limit)
{
	atomic_store_explicit(&s->size_limit, limit, memory_order_relaxed);
}

uint64_t zr_store_size_limit(struct zr_store *s)
{
	return ctr_get(&s->size_limit);
}

/* ---------------------------------------------------------------------
 * File
 * ------------------------------------------------------------------- */

static uint32_t codec_pack(struct zr_codec_spec spec)
{
	return spec.id | (uint32_t)spec.level << 8;
}

/* Writer-preferring: a stream of readers (FUSE threads reading a hot file)
 * must not starve a writer.  No path takes a file's read lock twice, which
 * that kind requires. */
static int fdata_lock_init(pthread_rwlock_t *lock)
{
	pthread_rwlockattr_t attr;
	int ret;

	if (pthread_rwlockattr_init(&attr))
		return -ENOMEM;
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	ret = pthread_rwlock_init(lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	return ret ? -ret : 0;
}

struct zr_fdata *zr_fdata_create(struct zr_store *s)
{
	struct zr_fdata *f = zr_calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	if (fdata_lock_init(&f->lock)) {
		zr_free(f);
		return NULL;
	}
	f->s = s;
	f->chunk_shift = s->chunk_shift;
	atomic_init(&f->size, 0);
	atomic_init(&f->codec, codec_pack(s->codec));
	files_link(f);
	return f;
}

static void free_from(struct zr_fdata *f, uint64_t first)
{
	struct zr_chunk r;
	uint64_t i;

	for (i = scan(f, first, false); i != IDX_NONE; i = scan(f, i + 1, false)) {
		r = rec_get(f, i);
		drop_chunk(f, i, &r);
	}
}

void zr_fdata_destroy(struct zr_fdata *f)
{
	struct zr_store *s;

	if (!f)
		return;
	s = f->s;
	files_unlink(f);		  /* waits for writeback to let go */
	pthread_rwlock_wrlock(&f->lock); /* workers may be publishing */
	free_from(f, 0);		  /* queued stages become detached */
	pthread_rwlock_unlock(&f->lock);
	pthread_mutex_lock(&s->stage_lock);
	while (f->inflight)		  /* until no worker holds f */
		pthread_cond_wait(&s->idle_cv, &s->stage_lock);
	pthread_mutex_unlock(&s->stage_lock);
	assert(!f->root && f->c.chunks == 0 && f->c.orig == 0);
	pthread_rwlock_destroy(&f->lock);
	zr_free(f);
}

uint64_t zr_fdata_size(struct zr_fdata *f)
{
	return fsize(f);
}

uint64_t zr_fdata_stored_bytes(struct zr_fdata *f)
{
	uint64_t v;

	pthread_rwlock_rdlock(&f->lock);
	v = f->c.orig;
	pthread_rwlock_unlock(&f->lock);
	return v;
}

ssize_t zr_fdata_read(struct zr_fdata *f, void *buf, size_t len, uint64_t off)
{
	ssize_t ret;

	tl_spill_reads = 0;
	pthread_rwlock_rdlock(&f->lock);
	ret = read_locked(f, buf, len, off);
	pthread_rwlock_unlock(&f->lock);
	if (ret > 0 && tl_spill_reads)
		promote_range(f, off, (uint64_t)ret);
	return ret;
}

/* With workers, a write that finds no free stage submits what it staged,
 * unlocks (workers need the lock to publish), waits for a stage and goes
 * on; each chunk is still written whole under the lock. */
ssize_t zr_fdata_write(struct zr_fdata *f, const void *buf, size_t len, uint64_t off)
{
	struct wctx w = {.can_wait = true};
	const uint8_t *p = buf;
	size_t done = 0;
	ssize_t n;

	if (f->s->spill)
		wb_throttle(f->s);
	note_write(f->s);
	for (;;) {
		pthread_rwlock_wrlock(&f->lock);
		n = write_locked(f, p + done, len - done, off + done, &w);
		stage_submit(f, &w);
		pthread_rwlock_unlock(&f->lock);
		if (n > 0)
			done += (size_t)n;
		if (n < 0 || !w.need_stage)
			break;
		w.need_stage = false;
		w.spare = stage_get_wait(f->s);
		w.force_inline = !w.spare;
	}
	if (w.spare)
		stage_put(f->s, w.spare);
	return done ? (ssize_t)done : n;
}

int zr_fdata_sync(struct zr_fdata *f)
{
	struct zr_store *s = f->s;
	int ret;

	if (s->pool) {
		pthread_mutex_lock(&s->stage_lock);
		while (f->inflight)
			pthread_cond_wait(&s->idle_cv, &s->stage_lock);
		pthread_mutex_unlock(&s->stage_lock);
	}
	pthread_rwlock_wrlock(&f->lock);
	ret = f->wb_err;
	f->wb_err = 0;
	pthread_rwlock_unlock(&f->lock);
	return ret;
}

/* trim_tail(): the chunk that will hold EOF at size keeps no byte past it. */
static int trim_tail(struct zr_fdata *f, uint64_t size)
{
	uint32_t tail = (uint32_t)(size & (chunk_size(f) - 1));
	uint64_t idx = size >> f->chunk_shift;
	struct zr_chunk r = rec_get(f, idx), nr;
	struct scratch *sc;
	int ret;

	if (!tail || rec_ulen(&r) <= tail)
		return 0;
	if (rec_state(&r) == CS_DIRTY) {
		orig_release(f->s, rec_ulen(&r) - tail);
		dirty_resize(f, idx, &r, tail, NULL);
		return 0;
	}
	if (rec_state(&r) == CS_SAME) {
		nr = r;
		rec_set_ulen(&nr, tail);
		orig_release(f->s, rec_ulen(&r) - tail);
		ret = install(f, idx, &r, &nr);
		assert(ret == 0);
		return ret;
	}
	sc = scratch_get(chunk_size(f));
	if (!sc)
		return -ENOMEM;
	ret = decode(f, &r, sc->plain);
	if (!ret)
		ret = store_chunk(f, idx, &r, sc->plain, tail, sc);
	scratch_put(sc);
	return ret;
}

static int truncate_locked(struct zr_fdata *f, uint64_t size)
{
	uint32_t cs = chunk_size(f);
	int ret;

	if (size > ZR_MAX_FILE_SIZE)
		return -EFBIG;
	if (size < fsize(f)) {
		ret = trim_tail(f, size);
		if (ret)
			return ret;
		free_from(f, (size + cs - 1) >> f->chunk_shift);
	}
	fsize_set(f, size);
	return 0;
}

int zr_fdata_truncate(struct zr_fdata *f, uint64_t size)
{
	int ret;

	pthread_rwlock_wrlock(&f->lock);
	ret = truncate_locked(f, size);
	pthread_rwlock_unlock(&f->lock);
	return ret;
}

/* punch_part(): zero [a, b) of chunk idx, which holds data there. */
static int punch_part(struct zr_fdata *f, uint64_t idx, const struct zr_chunk *old, uint32_t a,
		      uint32_t b)
{
	uint32_t ulen = rec_ulen(old), nul = b >= ulen ? a : ulen;
	struct scratch *sc;
	uint64_t word;
	int ret;

	if (rec_state(old) == CS_DIRTY && !rec_stage(old)->busy) {
		uint8_t *data = rec_stage(old)->data;

		memset(data + a, 0, (b < ulen ? b : ulen) - a);
		if (same_filled(data, nul, &word) && word == 0) {
			drop_chunk(f, idx, old);
			return 0;
		}
		orig_release(f->s, ulen - nul);
		dirty_resize(f, idx, old, nul, NULL);
		return 0;
	}
	sc = scratch_get(chunk_size(f));
	if (!sc)
		return -ENOMEM;
	ret = decode(f, old, sc->plain);
	if (!ret) {
		memset(sc->plain + a, 0, (b < ulen ? b : ulen) - a);
		if (same_filled(sc->plain, nul, &word) && word == 0)
			drop_chunk(f, idx, old);
		else
			ret = store_chunk(f, idx, old, sc->plain, nul, sc);
	}
	scratch_put(sc);
	return ret;
}

static int punch_locked(struct zr_fdata *f, uint64_t off, uint64_t len)
{
	uint64_t size = fsize(f), end, cstart, i;
	uint32_t cs = chunk_size(f), a, b, ulen;
	struct zr_chunk r;
	int ret;

	if (off >= size || len == 0)
		return 0;
	end = len > size - off ? size : off + len;
	for (i = scan(f, off >> f->chunk_shift, false); i != IDX_NONE; i = scan(f, i + 1, false)) {
		cstart = i << f->chunk_shift;
		if (cstart >= end)
			break;
		a = (uint32_t)(max_u64(off, cstart) - cstart);
		b = (uint32_t)(min_u64(end, cstart + cs) - cstart);
		r = rec_get(f, i);
		ulen = rec_ulen(&r);
		if (a >= ulen)
			continue;
		if (a == 0 && b >= ulen) {
			drop_chunk(f, i, &r);
			continue;
		}
		ret = punch_part(f, i, &r, a, b);
		if (ret)
			return ret;
	}
	return 0;
}

int zr_fdata_punch_hole(struct zr_fdata *f, uint64_t off, uint64_t len)
{
	int ret;

	pthread_rwlock_wrlock(&f->lock);
	ret = punch_locked(f, off, len);
	pthread_rwlock_unlock(&f->lock);
	return ret;
}

/* A fallocate-style range walk: chunk i covers [a, b) of the range. */
struct range_walk {
	uint64_t off, end;
	uint64_t i, last;
	uint32_t a, b;
};

static void walk_init(struct range_walk *w, const struct zr_fdata *f, uint64_t off, uint64_t end)
{
	w->off = off;
	w->end = end;
	w->i = off >> f->chunk_shift;
	w->last = (end - 1) >> f->chunk_shift;
}

static bool walk_next(struct range_walk *w, const struct zr_fdata *f)
{
	uint64_t cstart = w->i << f->chunk_shift;

	if (w->i > w->last)
		return false;
	w->a = (uint32_t)(max_u64(w->off, cstart) - cstart);
	w->b = (uint32_t)(min_u64(w->end, cstart + chunk_size(f)) - cstart);
	return true;
}

static void make_zero(struct zr_chunk *r, uint32_t ulen)
{
	memset(r, 0, sizeof(*r));
	r->info = make_info(CS_SAME, ZR_CODEC_NONE, ulen);
}

/* range_check(): validate [off, off+len) for zero_range/allocate and give
 * the new size and the end of the range inside it. */
static int range_check(struct zr_fdata *f, uint64_t off, uint64_t len, int keep_size,
		       uint64_t *nsize, uint64_t *end)
{
	uint64_t size = fsize(f);

	if (len > ZR_MAX_FILE_SIZE || off > ZR_MAX_FILE_SIZE - len)
		return -EFBIG;
	*nsize = keep_size ? size : max_u64(size, off + len);
	*end = min_u64(off + len, *nsize);
	return 0;
}

static int reserve_range(struct zr_fdata *f, int64_t delta)
{
	int ret = orig_reserve(f->s, delta);

	if (ret) {
		ctr_add(&f->s->failed_writes, 1);
		ctr_add(&f->s->enospc, 1);
	}
	return ret;
}

/* zero_chunk(): chunk i reads as zeros over [a, b), stores max(ulen, b). */
static int zero_chunk(struct zr_fdata *f, uint64_t i, uint32_t a, uint32_t b)
{
	struct zr_chunk r = rec_get(f, i), nr;
	uint32_t ulen = rec_ulen(&r), nul = b > ulen ? b : ulen;
	struct scratch *sc;
	int ret;

	if (rec_state(&r) == CS_HOLE || (rec_state(&r) == CS_SAME && r.u.word == 0) ||
	    (a == 0 && b >= ulen)) {
		make_zero(&nr, nul);
		return install(f, i, &r, &nr);
	}
	sc = scratch_get(chunk_size(f));
	if (!sc)
		return -ENOMEM;
	ret = load_chunk(f, &r, sc->plain, nul);
	if (!ret) {
		memset(sc->plain + a, 0, b - a);
		ret = encode(f, codec_load(f), sc->plain, nul, sc, &nr);
	}
	scratch_put(sc);
	return ret ? ret : install(f, i, &r, &nr);
}

/* zero_locked(): zero_range (beyond_only false) or allocate (true: only
 * bytes past each chunk's stored length, which read as zeros already, are
 * made allocated).  The whole ulen growth is reserved first: -ENOSPC
 * changes nothing. */
static int zero_locked(struct zr_fdata *f, uint64_t off, uint64_t len, int keep_size,
		       bool beyond_only)
{
	struct range_walk w;
	uint64_t nsize, end;
	int64_t delta = 0, done = 0, d;
	uint32_t ulen, a;
	int ret = range_check(f, off, len, keep_size, &nsize, &end);

	if (ret || off >= end)
		goto out;
	for (walk_init(&w, f, off, end); walk_next(&w, f); w.i++) {
		ulen = ulen_at(f, w.i);
		delta += w.b > ulen ? w.b - ulen : 0;
	}
	ret = reserve_range(f, delta);
	if (ret)
		return ret;
	for (walk_init(&w, f, off, end); walk_next(&w, f); w.i++) {
		ulen = ulen_at(f, w.i);
		a = beyond_only && ulen > w.a ? ulen : w.a;
		if (a >= w.b)
			continue;
		d = w.b > ulen ? w.b - ulen : 0;
		ret = zero_chunk(f, w.i, a, w.b);
		if (ret) {
			orig_release(f->s, delta - done);
			ctr_add(&f->s->failed_writes, 1);
			return ret;
		}
		done += d;
	}
	assert(done == delta);
out:
	if (!ret && nsize > fsize(f))
		fsize_set(f, nsize);
	return ret;
}

int zr_fdata_zero_range(struct zr_fdata *f, uint64_t off, uint64_t len, int keep_size)
{
	int ret;

	pthread_rwlock_wrlock(&f->lock);
	ret = zero_locked(f, off, len, keep_size, false);
	pthread_rwlock_unlock(&f->lock);
	return ret;
}

int zr_fdata_allocate(struct zr_fdata *f, uint64_t off, uint64_t len, int keep_size)
{
	int ret;

	pthread_rwlock_wrlock(&f->lock);
	ret = zero_locked(f, off, len, keep_size, true);
	pthread_rwlock_unlock(&f->lock);
	return ret;
}

static int64_t seek_locked(struct zr_fdata *f, uint64_t off, int hole)
{
	uint64_t size = fsize(f), i;

	if (off >= size)
		return -ENXIO;
	i = scan(f, off >> f->chunk_shift, hole != 0);
	if (hole)
		return (int64_t)min_u64(max_u64(off, i << f->chunk_shift), size);
	if (i == IDX_NONE || (i << f->chunk_shift) >= size)
		return -ENXIO;
	return (int64_t)max_u64(off, i << f->chunk_shift);
}

int64_t zr_fdata_seek(struct zr_fdata *f, uint64_t off, int hole)
{
	int64_t ret;

	pthread_rwlock_rdlock(&f->lock);
	ret = seek_locked(f, off, hole);
	pthread_rwlock_unlock(&f->lock);
	return ret;
}

/* ---------------------------------------------------------------------
 * Copy
 * ------------------------------------------------------------------- */

static void lock_pair(struct zr_fdata *dst, struct zr_fdata *src)
{
	if (dst == src) {
		pthread_rwlock_wrlock(&dst->lock);
	} else if ((uintptr_t)src < (uintptr_t)dst) {
		pthread_rwlock_rdlock(&src->lock);
		pthread_rwlock_wrlock(&dst->lock);
	} else {
		pthread_rwlock_wrlock(&dst->lock);
		pthread_rwlock_rdlock(&src->lock);
	}
}

static void unlock_pair(struct zr_fdata *dst, struct zr_fdata *src)
{
	pthread_rwlock_unlock(&dst->lock);
	if (src != dst)
		pthread_rwlock_unlock(&src->lock);
}

/* can_dup(): piece bytes at soff/doff replace a whole stored chunk of dst
 * with a whole stored chunk of src: the record can be cloned. */
static bool can_dup(struct zr_fdata *dst, uint64_t doff, struct zr_fdata *src, uint64_t soff,
		    uint64_t piece)
{
	uint32_t mask = chunk_size(dst) - 1;

	struct zr_chunk sr;

	if (dst->chunk_shift != src->chunk_shift || (doff & mask) || (soff & mask))
		return false;
	sr = rec_get(src, soff >> src->chunk_shift);
	if (rec_state(&sr) == CS_DIRTY || rec_state(&sr) == CS_SPILLED)
		return false; /* its bytes are in a stage or on disk: copy them */
	return rec_ulen(&sr) <= piece &&
	       ulen_at(dst, doff >> dst->chunk_shift) <= piece;
}

/* dup_chunk(): clone src's record (and object bytes) into dst. */
static int dup_chunk(struct zr_fdata *dst, uint64_t didx, struct zr_fdata *src, uint64_t sidx)
{
	struct zr_chunk sr = rec_get(src, sidx), old = rec_get(dst, didx), nr = sr;
	struct zr_arena *sa = src->s->arena;
	int64_t delta = (int64_t)rec_ulen(&sr) - rec_ulen(&old);
	struct scratch *sc;
	const void *p;
	int ret;

	if (rec_state(&sr) == CS_HOLE) {
		if (rec_state(&old) != CS_HOLE)
			drop_chunk(dst, didx, &old);
		return 0;
	}
	ret = orig_reserve(dst->s, delta);
	if (ret)
		return ret;
	if (rec_has_obj(&sr)) {
		sc = scratch_get(chunk_size(src));
		p = sc ? zr_arena_read_begin(sa, sr.u.obj.handle) : NULL;
		ret = !sc ? -ENOMEM : !p ? -EIO : 0;
		if (p) {
			memcpy(sc->comp, p, sr.u.obj.clen);
			zr_arena_read_end(sa, sr.u.obj.handle);
			ret = obj_new(dst->s, sc->comp, sr.u.obj.clen, &nr.u.obj.handle);
		}
		scratch_put(sc);
	}
	if (!ret)
		ret = install(dst, didx, &old, &nr);
	if (ret)
		orig_release(dst->s, delta);
	return ret;
}

/* dup_piece(): a whole chunk by cloning its record; counts failures as
 * write_locked() does. */
static ssize_t dup_piece(struct zr_fdata *dst, uint64_t doff, struct zr_fdata *src, uint64_t soff,
			 size_t piece)
{
	int ret = dup_chunk(dst, doff >> dst->chunk_shift, src, soff >> src->chunk_shift);

	if (ret) {
		ctr_add(&dst->s->failed_writes, 1);
		if (ret == -ENOSPC)
			ctr_add(&dst->s->enospc, 1);
		return ret;
	}
	if (doff + piece > fsize(dst))
		fsize_set(dst, doff + piece);
	return (ssize_t)piece;
}

/* copy_piece(): up to one chunk through the bounce buffer. */
static ssize_t copy_piece(struct zr_fdata *dst, uint64_t doff, struct zr_fdata *src, uint64_t soff,
			  size_t piece, struct wctx *w)
{
	struct scratch *sc = scratch_get(chunk_size(dst));
	uint8_t *buf = sc ? scratch_copybuf(sc, chunk_size(dst)) : NULL;
	ssize_t n;

	if (!buf) {
		scratch_put(sc);
		return -ENOMEM;
	}
	n = read_locked(src, buf, piece, soff);
	if (n > 0)
		n = write_locked(dst, buf, (size_t)n, doff, w);
	else if (n == 0)
		n = -EIO;
	scratch_put(sc);
	return n;
}

static ssize_t copy_locked(struct zr_fdata *dst, uint64_t doff, struct zr_fdata *src, uint64_t soff,
			   size_t len, struct wctx *w)
{
	uint64_t ssize = fsize(src);
	uint32_t dcs = chunk_size(dst);
	size_t done = 0, piece;
	ssize_t n = 0;

	if (soff >= ssize || len == 0)
		return 0;
	len = (size_t)min_u64(len, ssize - soff);
	if (dst == src && soff < doff + len && doff < soff + len)
		return -EINVAL;
	if (doff >= ZR_MAX_FILE_SIZE || len > ZR_MAX_FILE_SIZE - doff)
		return -EFBIG;
	for (; done < len; done += (size_t)n) {
		piece = (size_t)min_u64(len - done, dcs - ((doff + done) & (dcs - 1)));
		if (can_dup(dst, doff + done, src, soff + done, piece))
			n = dup_piece(dst, doff + done, src, soff + done, piece);
		else
			n = copy_piece(dst, doff + done, src, soff + done, piece, w);
		if (n <= 0)
			break;
	}
	return done ? (ssize_t)done : n;
}

ssize_t zr_fdata_copy(struct zr_fdata *dst, uint64_t dst_off, struct zr_fdata *src,
		      uint64_t src_off, size_t len)
{
	struct wctx w = {.can_wait = false}; /* two locks held: never wait */
	ssize_t ret;

	lock_pair(dst, src);
	ret = copy_locked(dst, dst_off, src, src_off, len, &w);
	stage_submit(dst, &w);
	unlock_pair(dst, src);
	return ret;
}

/* ---------------------------------------------------------------------
 * Policy and stats
 * ------------------------------------------------------------------- */

void zr_fdata_set_codec(struct zr_fdata *f, struct zr_codec_spec spec)
{
	atomic_store_explicit(&f->codec, codec_pack(spec), memory_order_relaxed);
}

struct zr_codec_spec zr_fdata_get_codec(struct zr_fdata *f)
{
	return codec_load(f);
}

/* Under the write lock, so no reader or worker sees the shift change
 * under a chunk; only while the file holds no chunk, so no record was
 * made at the old size.  Stages are sized to the store's chunk: larger
 * is refused. */
int zr_fdata_set_chunk_shift(struct zr_fdata *f, unsigned shift)
{
	int ret = 0;

	if (shift < ZR_CHUNK_SHIFT_MIN || shift > f->s->chunk_shift)
		return -EINVAL;
	pthread_rwlock_wrlock(&f->lock);
	if (shift != f->chunk_shift) {
		if (fsize(f) || scan(f, 0, false) != IDX_NONE)
			ret = -EBUSY;
		else
			f->chunk_shift = shift;
	}
	pthread_rwlock_unlock(&f->lock);
	return ret;
}

unsigned zr_fdata_chunk_shift(struct zr_fdata *f)
{
	unsigned shift;

	pthread_rwlock_rdlock(&f->lock);
	shift = f->chunk_shift;
	pthread_rwlock_unlock(&f->lock);
	return shift;
}

void zr_fdata_get_stats(struct zr_fdata *f, struct zr_fdata_stats *st)
{
	pthread_rwlock_rdlock(&f->lock);
	st->size = fsize(f);
	st->orig_bytes = f->c.orig;
	st->compr_bytes = f->c.compr;
	st->chunks = f->c.chunks;
	st->same_chunks = f->c.same;
	st->huge_chunks = f->c.huge;
	st->compressed_chunks = f->c.compressed;
	st->spilled_chunks = f->c.spilled;
	st->chunk_size = chunk_size(f);
	st->codec = codec_load(f);
	pthread_rwlock_unlock(&f->lock);
}

/* ---------------------------------------------------------------------
 * Recompress
 * ------------------------------------------------------------------- */

/* recompress_chunk(): re-encode chunk idx with spec if that makes its
 * object smaller (zram keeps a recompressed page only when it shrinks, for
 * the same reason: a larger object would only cost memory).  Dirty and
 * same-filled chunks are left alone: workers encode the former with the
 * file's (new) codec, the latter cost nothing.  Exclusive lock held. */
static int recompress_chunk(struct zr_fdata *f, uint64_t idx, struct zr_codec_spec spec,
			    struct scratch *sc, uint64_t *saved)
{
	struct zr_chunk old = rec_get(f, idx), nr;
	uint32_t ulen = rec_ulen(&old);
	ssize_t n;
	int ret;

	if (!rec_has_obj(&old))
		return 0;
	if (rec_state(&old) == CS_COMPRESSED && rec_codec(&old) == spec.id &&
	    spec.id == ZR_CODEC_LZ4 && !spec.level)
		return 0;	/* fast lz4 again cannot shrink it (lz4hc may) */
	ret = decode(f, &old, sc->plain);
	if (ret)
		return ret;
	n = compress(spec, sc->plain, ulen, sc);
	if (n < 0)
		return (int)n;
	if (n == 0 || (uint32_t)n >= old.u.obj.clen)
		return 0;
	memset(&nr, 0, sizeof(nr));
	ret = obj_new(f->s, sc->comp, (uint32_t)n, &nr.u.obj.handle);
	if (ret)
		return ret;
	/* the user's choice: the idle recompression leaves it alone */
	nr.info = make_info(CS_COMPRESSED, spec.id, ulen) | INFO_RECOMP;
	nr.u.obj.clen = (uint32_t)n;
	nr.tick = old.tick;
	*saved += old.u.obj.clen - (uint32_t)n;
	return install(f, idx, &old, &nr);
}

int zr_fdata_recompress(struct zr_fdata *f, struct zr_codec_spec spec, uint64_t *saved)
{
	struct scratch *sc = scratch_get(chunk_size(f));
	uint64_t idx = 0;
	int ret = 0;

	*saved = 0;
	if (!sc)
		return -ENOMEM;
	if (spec.id == ZR_CODEC_NONE) {
		scratch_put(sc);
		return -EINVAL;
	}
	zr_fdata_set_codec(f, spec);
	/* One chunk per hold of the lock: readers and writers of the file
	 * wait for one chunk's encode at most, never for the whole file. */
	for (;;) {
		pthread_rwlock_wrlock(&f->lock);
		idx = scan(f, idx, false);
		if (idx == IDX_NONE || (idx << f->chunk_shift) >= fsize(f)) {
			pthread_rwlock_unlock(&f->lock);
			break;
		}
		ret = recompress_chunk(f, idx, spec, sc, saved);
		pthread_rwlock_unlock(&f->lock);
		if (ret)
			break;
		idx++;
	}
	scratch_put(sc);
	return ret;
}

/* ---------------------------------------------------------------------
 * Writeback (see chunk.h)
 *
 * Writing back chunk idx of f (wb_chunk()):
 *   1. under f->lock shared: the record is COMPRESSED or RAW and cold
 *      enough; copy its object's bytes (pinned) and note f->objgen;
 *   2. no lock: write them to the spill (pwrite);
 *   3. under f->lock exclusive: if the record and objgen are unchanged,
 *      it becomes SPILLED (same info, the state bits and codec kept,
 *      u.obj = spill location + clen) and the arena object is freed; else
 *      the extent is freed and the chunk left alone.
 * objgen closes the ABA hole: the same record bytes could come back only
 * if its handle was freed and reused, and any free of one of f's objects
 * bumps objgen.  Readers, writers, truncate, punch and unlink of the
 * chunk meanwhile are ordinary users of f->lock.
 *
 * The files are on a circular list (files_lock); the clock hand moves
 * over it.  A file in use by writeback (or the idle recompression) has
 * busy raised, and zr_fdata_destroy() waits for it to drop to 0 before
 * freeing the file.
 * ------------------------------------------------------------------- */

/* Pressure: start at 9/10 of mem_limit, write back down to 8/10. */
#define WB_HIGH_NUM 9
#define WB_LOW_NUM  8
#define WB_DEN	    10

/* Ages of the pressure passes, coldest first (seconds). */
static const uint32_t wb_ages[] = {64, 16, 4, 1, 0};

/* Records the writeback looks at per hold of a file's shared lock. */
#define WB_SCAN_BATCH 256

/* A writer waits at most this long for writeback to make room. */
#define WB_THROTTLE_MS 2000

struct wb_sel {
	enum zr_wb_mode mode;
	uint32_t min_age;
};

static void files_link(struct zr_fdata *f)
{
	struct zr_store *s = f->s;

	pthread_mutex_lock(&s->files_lock);
	if (!s->files) {
		f->wb_next = f->wb_prev = f;
		s->files = f;
	} else {
		f->wb_next = s->files;
		f->wb_prev = s->files->wb_prev;
		f->wb_prev->wb_next = f;
		s->files->wb_prev = f;
	}
	s->nfiles++;
	pthread_mutex_unlock(&s->files_lock);
}

static void files_unlink(struct zr_fdata *f)
{
	struct zr_store *s = f->s;

	pthread_mutex_lock(&s->files_lock);
	while (f->busy)
		pthread_cond_wait(&s->files_cv, &s->files_lock);
	if (s->hand == f)
		s->hand = f->wb_next == f ? NULL : f->wb_next;
	if (s->rc_hand == f)
		s->rc_hand = f->wb_next == f ? NULL : f->wb_next;
	if (s->files == f)
		s->files = f->wb_next == f ? NULL : f->wb_next;
	f->wb_prev->wb_next = f->wb_next;
	f->wb_next->wb_prev = f->wb_prev;
	s->nfiles--;
	pthread_mutex_unlock(&s->files_lock);
}

static uint32_t clock_now(struct zr_store *s)
{
	return atomic_load_explicit(&s->clock, memory_order_relaxed);
}

/* clock_advance(): add the whole seconds since *t0 to the clock (the
 * one thread that keeps it calls this; zr_store_tick() adds too). */
static void clock_advance(struct zr_store *s, struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec > t0->tv_sec) {
		atomic_fetch_add_explicit(&s->clock, (uint32_t)(now.tv_sec - t0->tv_sec),
					  memory_order_relaxed);
		t0->tv_sec = now.tv_sec;
	}
}

void zr_store_tick(struct zr_store *s)
{
	atomic_fetch_add_explicit(&s->clock, 1, memory_order_relaxed);
}

/* A chunk selector for find_candidate(): true if r is wanted. */
typedef bool (*chunk_pred)(struct zr_store *s, const struct zr_chunk *r, const void *arg);

/* find_candidate(): from *i on, the next chunk of f that wants() takes,
 * looking at up to WB_SCAN_BATCH records per hold of f's shared lock.
 * true with *i at it, or false at the file's end. */
static bool find_candidate(struct zr_fdata *f, uint64_t *i, chunk_pred wants, const void *arg)
{
	struct zr_chunk r;
	uint64_t end;
	bool found = false, at_end = false;

	while (!found && !at_end) {
		pthread_rwlock_rdlock(&f->lock);
		end = (fsize(f) + chunk_size(f) - 1) >> f->chunk_shift;
		for (unsigned n = 0; n < WB_SCAN_BATCH; n++, (*i)++) {
			*i = *i < end ? scan(f, *i, false) : IDX_NONE;
			at_end = *i == IDX_NONE || *i >= end;
			if (at_end)
				break;
			r = rec_get(f, *i);
			found = wants(f->s, &r, arg);
			if (found)
				break;
		}
		pthread_rwlock_unlock(&f->lock);
	}
	return found;
}

static bool wb_wants(struct zr_store *s, const struct zr_chunk *r, const void *arg)
{
	const struct wb_sel *sel = arg;
	unsigned st = rec_state(r);

	if (st != CS_COMPRESSED && st != CS_RAW)
		return false;
	if (sel->mode == ZR_WB_HUGE)
		return st == CS_RAW;
	if (sel->mode == ZR_WB_ALL)
		return true;
	return clock_now(s) - r->tick >= sel->min_age;
}

/* copy_candidate(): step 1 of the writeback and recompression protocols
 * (see "Writeback"): under f's shared lock, if wants() takes chunk idx,
 * copy its object's bytes to buf and note the record (*r) and objgen
 * (*gen).  1 copied, 0 not a candidate (or its object is gone). */
static int copy_candidate(struct zr_fdata *f, uint64_t idx, chunk_pred wants, const void *arg,
			  uint8_t *buf, struct zr_chunk *r, uint64_t *gen)
{
	struct zr_store *s = f->s;
	const void *p = NULL;

	pthread_rwlock_rdlock(&f->lock);
	*r = rec_get(f, idx);
	if (wants(s, r, arg)) {
		*gen = f->objgen;
		p = zr_arena_read_begin(s->arena, r->u.obj.handle);
		if (p) {
			memcpy(buf, p, r->u.obj.clen);
			zr_arena_read_end(s->arena, r->u.obj.handle);
		}
	}
	pthread_rwlock_unlock(&f->lock);
	return p != NULL;
}

/* rec_unchanged(): under f's exclusive lock, chunk idx still holds the
 * record r copy_candidate() saw, and objgen is still gen (the ABA check,
 * see "Writeback"); *cur gets the record. */
static bool rec_unchanged(struct zr_fdata *f, uint64_t idx, const struct zr_chunk *r,
			  uint64_t gen, struct zr_chunk *cur)
{
	*cur = rec_get(f, idx);
	return gen == f->objgen && cur->info == r->info && cur->u.word == r->u.word;
}

/* wb_chunk(): write back chunk idx of f if sel wants it.  1 done (*freed
 * grows by its arena bytes), 0 skipped, or the spill's error. */
static int wb_chunk_buf(struct zr_fdata *f, uint64_t idx, const struct wb_sel *sel,
			uint64_t *freed, uint8_t *buf)
{
	struct zr_store *s = f->s;
	struct zr_chunk r, cur, nr;
	uint64_t gen;
	uint32_t loc, clen;
	int ret;

	if (!copy_candidate(f, idx, wb_wants, sel, buf, &r, &gen))
		return 0;
	clen = r.u.obj.clen;
	ret = zr_spill_write(s->spill, buf, clen, &loc);
	if (ret)
		return ret;
	pthread_rwlock_wrlock(&f->lock);
	if (!rec_unchanged(f, idx, &r, gen, &cur)) {
		pthread_rwlock_unlock(&f->lock);
		zr_spill_free(s->spill, loc, clen);
		return 0;
	}
	nr = cur;
	nr.info |= INFO_SPILLED;
	nr.u.obj.handle = loc;
	nr.tick = TICK_SPILLED;
	rec_update(f, idx, &cur, &nr);
	zr_arena_free(s->arena, cur.u.obj.handle);
	f->objgen++;
	pthread_rwlock_unlock(&f->lock);
	*freed += clen;
	return 1;
}

static int wb_chunk(struct zr_fdata *f, uint64_t idx, const struct wb_sel *sel, uint64_t *freed)
{
	struct scratch *sc = scratch_take();
	uint8_t *buf = sc ? scratch_spillbuf(sc, chunk_size(f)) : NULL;
	int ret = buf ? wb_chunk_buf(f, idx, sel, freed, buf) : -ENOMEM;

	scratch_put(sc);
	return ret;
}

/* wb_file(): write back f's chunks that sel wants until *freed reaches
 * target.  Chunks done, or the spill's error if it failed first. */
static int64_t wb_file(struct zr_fdata *f, const struct wb_sel *sel, uint64_t target,
		       uint64_t *freed)
{
	uint64_t i = 0;
	int64_t done = 0;
	int ret;

	while (*freed < target && find_candidate(f, &i, wb_wants, sel)) {
		ret = wb_chunk(f, i, sel, freed);
		if (ret < 0)
			return done ? done : ret;
		done += ret;
		i++;
	}
	return done;
}

/* fn's "stop here" for files_walk(), not an error. */
#define WALK_STOP INT64_MIN

/* files_walk(): fn(f, arg) on every file once, with f pinned (busy) and
 * files_lock not held; stops early when fn returns < 0 (an errno, or
 * WALK_STOP), and returns that.
 * With hand, the walk starts at *hand (the first file if NULL) and keeps
 * it at the next file to visit.  fn returning WALK_STOP means it stopped
 * before doing f, so a hand stays on f, as a check made before taking
 * the next file would leave it.  files_unlink() moves a hand off a file
 * that goes. */
static int64_t files_walk(struct zr_store *s, struct zr_fdata **hand,
			  int64_t (*fn)(struct zr_fdata *f, void *arg), void *arg)
{
	struct zr_fdata *f, *next = NULL;
	int64_t r = 0;

	pthread_mutex_lock(&s->files_lock);
	for (unsigned n = s->nfiles; n-- && r >= 0;) {
		f = hand ? *hand : next;
		f = f ? f : s->files;
		if (!f)
			break;
		if (hand)
			*hand = f->wb_next;
		f->busy++;
		pthread_mutex_unlock(&s->files_lock);
		r = fn(f, arg);
		pthread_mutex_lock(&s->files_lock);
		next = f->wb_next; /* still linked: busy */
		if (hand && r == WALK_STOP)
			*hand = f;
		f->busy--;
		pthread_cond_broadcast(&s->files_cv);
	}
	pthread_mutex_unlock(&s->files_lock);
	return r;
}

struct wb_sweep_arg {
	const struct wb_sel *sel;
	uint64_t target;
	uint64_t *freed;
	int64_t done;
};

static int64_t wb_file_fn(struct zr_fdata *f, void *arg)
{
	struct wb_sweep_arg *a = arg;
	int64_t r;

	if (*a->freed >= a->target)
		return WALK_STOP;
	r = wb_file(f, a->sel, a->target, a->freed);
	if (r > 0)
		a->done += r;
	return r;
}

/* wb_sweep(): one turn of the clock hand over every file. */
static int64_t wb_sweep(struct zr_store *s, const struct wb_sel *sel, uint64_t target,
			uint64_t *freed)
{
	struct wb_sweep_arg a = {.sel = sel, .target = target, .freed = freed};
	int64_t r = files_walk(s, &s->hand, wb_file_fn, &a);

	return a.done ? a.done : (r < 0 && r != WALK_STOP ? r : 0);
}

static uint64_t mem_used(struct zr_store *s)
{
	return zr_arena_used_bytes(s->arena) + ctr_get(&s->staging_bytes);
}

int64_t zr_store_writeback(struct zr_store *s, enum zr_wb_mode mode)
{
	uint32_t idle = atomic_load_explicit(&s->idle, memory_order_relaxed);
	struct wb_sel sel = {.mode = mode, .min_age = idle ? idle : 1};
	uint64_t freed = 0;
	int64_t n;

	if (!s->spill)
		return -ENODEV;
	zr_store_sync(s); /* staged chunks become candidates too */
	n = wb_sweep(s, &sel, UINT64_MAX, &freed);
	if (freed)
		zr_arena_compact(s->arena);
	return n;
}

void zr_store_set_mem_limit(struct zr_store *s, uint64_t limit)
{
	atomic_store_explicit(&s->mem_limit, limit, memory_order_relaxed);
	pthread_mutex_lock(&s->wb_lock);
	s->wb_kick = true;
	pthread_cond_broadcast(&s->wb_cv);
	pthread_cond_broadcast(&s->room_cv);
	pthread_mutex_unlock(&s->wb_lock);
}

uint64_t zr_store_mem_limit(struct zr_store *s)
{
	return ctr_get(&s->mem_limit);
}

/* wb_pressure(): while above the high watermark, write back the coldest
 * chunks down to the low one.  Returns bytes freed. */
static uint64_t wb_pressure(struct zr_store *s)
{
	uint64_t limit = ctr_get(&s->mem_limit), used = mem_used(s), freed = 0, target;

	if (!limit || used <= limit / WB_DEN * WB_HIGH_NUM)
		return 0;
	target = used - limit / WB_DEN * WB_LOW_NUM;
	for (unsigned i = 0; i < sizeof(wb_ages) / sizeof(wb_ages[0]) && freed < target; i++) {
		struct wb_sel sel = {.mode = ZR_WB_IDLE, .min_age = wb_ages[i]};

		if (wb_sweep(s, &sel, target, &freed) < 0)
			break; /* the spill is full or failing */
	}
	/* Objects freed leave holes in spans: give them back. */
	if (freed)
		zr_arena_compact(s->arena);
	return freed;
}

static void *wb_main(void *arg)
{
	struct zr_store *s = arg;
	struct timespec t0, dl;
	uint64_t freed;
	uint32_t idle, idle_at = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_mutex_lock(&s->wb_lock);
	while (!s->wb_stop) {
		clock_gettime(CLOCK_REALTIME, &dl); /* the condvar's clock */
		dl.tv_nsec += 200 * 1000000L; /* pressure is checked 5 times a second */
		if (dl.tv_nsec >= 1000000000L) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000L;
		}
		if (!s->wb_kick)
			pthread_cond_timedwait(&s->wb_cv, &s->wb_lock, &dl);
		s->wb_kick = false;
		if (s->wb_stop)
			break;
		pthread_mutex_unlock(&s->wb_lock);

		clock_advance(s, &t0);
		freed = wb_pressure(s);
		idle = atomic_load_explicit(&s->idle, memory_order_relaxed);
		if (idle && clock_now(s) != idle_at) { /* once a second */
			struct wb_sel sel = {.mode = ZR_WB_IDLE, .min_age = idle};
			uint64_t f2 = 0;

			idle_at = clock_now(s);
			wb_sweep(s, &sel, UINT64_MAX, &f2);
			if (f2)
				zr_arena_compact(s->arena);
		}

		pthread_mutex_lock(&s->wb_lock);
		s->wb_stalled = freed == 0 && mem_used(s) > ctr_get(&s->mem_limit) / WB_DEN * WB_HIGH_NUM;
		s->wb_passes++;
		pthread_cond_broadcast(&s->room_cv);
	}
	pthread_mutex_unlock(&s->wb_lock);
	return NULL;
}

static void wb_stop(struct zr_store *s)
{
	if (!s->wb_running)
		return;
	pthread_mutex_lock(&s->wb_lock);
	s->wb_stop = true;
	pthread_cond_broadcast(&s->wb_cv);
	pthread_cond_broadcast(&s->room_cv);
	pthread_mutex_unlock(&s->wb_lock);
	pthread_join(s->wb_thread, NULL);
	pthread_mutex_lock(&s->wb_lock);
	s->wb_running = false;
	pthread_mutex_unlock(&s->wb_lock);
}

/* wb_throttle(): a writer (no lock held) above the high watermark waits
 * for the writeback to bring usage down, unless it is stalled (spill full
 * or failing: the write then meets the arena cap and ENOSPC). */
static void wb_throttle(struct zr_store *s)
{
	uint64_t limit = ctr_get(&s->mem_limit);
	struct timespec dl;

	if (!limit || mem_used(s) <= limit / WB_DEN * WB_HIGH_NUM)
		return;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += WB_THROTTLE_MS / 1000;
	pthread_mutex_lock(&s->wb_lock);
	while (s->wb_running && !s->wb_stop && !s->wb_stalled) {
		uint64_t pass = s->wb_passes;

		s->wb_kick = true;
		pthread_cond_signal(&s->wb_cv);
		while (pass == s->wb_passes && !s->wb_stop)
			if (pthread_cond_timedwait(&s->room_cv, &s->wb_lock, &dl))
				goto out;
		limit = ctr_get(&s->mem_limit);
		if (!limit || mem_used(s) <= limit / WB_DEN * WB_HIGH_NUM)
			break;
	}
out:
	pthread_mutex_unlock(&s->wb_lock);
}

/* ---------------------------------------------------------------------
 * Idle recompression (see chunk.h)
 *
 * Chunks are first compressed for speed (the write path's codec); one that
 * has not been touched for recomp_idle seconds is re-encoded once with the
 * stronger codec s->recomp[its codec id] (lz4 -> lz4hc, zstd:3 -> zstd:6;
 * the decoder is the same, so reads cost the same) and the new object kept
 * only if it is smaller, as zram's recompress does.  Either way the record
 * gets INFO_RECOMP and is not tried again until rewritten (any new record
 * has the bit clear).  recomp_todo counts the COMPRESSED records without
 * the bit (account()).
 *
 * rc_chunk() follows wb_chunk()'s protocol, so the file's lock is never
 * held while coding:
 *   1. under f->lock shared: the record is a candidate; copy its object's
 *      bytes and note f->objgen;
 *   2. no lock: decode the copy and encode it with the stronger codec;
 *   3. no lock: allocate the new object if it is smaller;
 *   4. under f->lock exclusive: if the record and objgen are unchanged,
 *      install the new object (or, when it is not smaller, set INFO_RECOMP
 *      on the record); else free it (the chunk changed: it will be
 *      considered again when it is idle).
 * The background thread runs at SCHED_IDLE (only on CPU time nobody else
 * wants), wakes once a second, and sweeps the files with its own clock
 * hand while recomp_todo is non-zero and the mount has had no write for
 * RC_QUIET seconds; a write stops the sweep (note_write()).  Measured on
 * the bench's untar (linux-6.1, lz4): recompressing during the untar, at
 * SCHED_IDLE and compacting after each sweep, made it 1.11x comp=none's
 * time (0.89x without); the background pass leaves compaction to the
 * housekeeper's policy, the control compacts at once.
 * ------------------------------------------------------------------- */

/* A background sweep starts once the mount has had no write this long, s. */
#define RC_QUIET 2

/* arg: the minimum age (const uint32_t *). */
static bool rc_wants(struct zr_store *s, const struct zr_chunk *r, const void *arg)
{
	return rec_state(r) == CS_COMPRESSED && !(r->info & INFO_RECOMP) &&
	       s->recomp[rec_codec(r)].id != ZR_CODEC_NONE &&
	       clock_now(s) - r->tick >= *(const uint32_t *)arg;
}

/* rc_commit(): step 4 of rc_chunk(), exclusive lock held: nr is r with
 * INFO_RECOMP set, holding a new, smaller object (smaller) or r's own.
 * 1 installed smaller, 0 not (nr's new object is then freed). */
static int rc_commit(struct zr_fdata *f, uint64_t idx, const struct zr_chunk *r, uint64_t gen,
		     struct zr_chunk nr, bool smaller)
{
	struct zr_store *s = f->s;
	struct zr_chunk cur;

	if (!rec_unchanged(f, idx, r, gen, &cur)) {
		if (smaller)
			zr_arena_free(s->arena, nr.u.obj.handle);
		return 0;
	}
	nr.tick = cur.tick; /* a read may have touched it meanwhile */
	if (!smaller) {
		rec_update(f, idx, &cur, &nr);
		return 0;
	}
	if (install(f, idx, &cur, &nr)) /* cannot fail: the leaf exists */
		return 0;
	ctr_add(&s->recomp_done, 1);
	ctr_add(&s->recomp_saved, cur.u.obj.clen - nr.u.obj.clen);
	return 1;
}

/* rc_chunk(): recompress chunk idx of f if it is a candidate (see above).
 * 1 re-encoded smaller, 0 not, or a negative errno (the pass stops). */
static int rc_chunk(struct zr_fdata *f, uint64_t idx, uint32_t min_age, struct scratch *sc)
{
	struct zr_store *s = f->s;
	struct zr_codec_spec spec;
	const struct zr_codec_dict *dict;
	struct zr_chunk r, nr;
	uint8_t *copy = scratch_spillbuf(sc, chunk_size(f));
	uint64_t gen;
	bool smaller;
	ssize_t n;
	int ret;

	if (!copy)
		return -ENOMEM;
	if (!copy_candidate(f, idx, rc_wants, &min_age, copy, &r, &gen))
		return 0;
	spec = s->recomp[rec_codec(&r)];
	dict = atomic_load_explicit(&s->dict[spec.id], memory_order_acquire);
	ret = decompress(s, &r, copy, r.u.obj.clen, sc->plain);
	if (ret == -ENOMEM)
		return ret;
	/* A chunk that does not decode is left as it is: its reads report
	 * -EIO; the commit below only marks it tried. */
	n = ret ? 0 : compress_dict(spec, dict, sc->plain, rec_ulen(&r), sc);
	if (n < 0)
		return (int)n;
	nr = r;
	nr.info |= INFO_RECOMP;
	smaller = n > 0 && (uint32_t)n < r.u.obj.clen;
	if (smaller) {
		/* allocated before the lock: the file waits for no allocation */
		ret = obj_new(s, sc->comp, (uint32_t)n, &nr.u.obj.handle);
		if (ret)
			return ret;
		nr.info = make_info(CS_COMPRESSED, spec.id, rec_ulen(&r)) | INFO_RECOMP |
			  (dict ? INFO_DICT : 0);
		nr.u.obj.clen = (uint32_t)n;
	}
	pthread_rwlock_wrlock(&f->lock);
	ret = rc_commit(f, idx, &r, gen, nr, smaller);
	pthread_rwlock_unlock(&f->lock);
	return ret;
}

/* A background pass gives way: to the store's destruction (stop), and to
 * writers (a write since the pass began: the mount is busy again). */
struct rc_pass {
	uint32_t min_age;
	bool background;
	uint32_t write_mark; /* last_write when the pass began */
};

static bool rc_give_way(struct zr_store *s, const struct rc_pass *p)
{
	return p->background &&
	       (atomic_load_explicit(&s->rc_stop, memory_order_relaxed) ||
		atomic_load_explicit(&s->last_write, memory_order_relaxed) != p->write_mark);
}

/* rc_file(): recompress f's candidates until the pass must give way.
 * Chunks re-encoded smaller, or a negative errno. */
static int64_t rc_file(struct zr_fdata *f, const struct rc_pass *p, struct scratch *sc)
{
	uint32_t min_age = p->min_age;
	uint64_t i = 0;
	int64_t done = 0;
	int ret;

	while (!rc_give_way(f->s, p) && find_candidate(f, &i, rc_wants, &min_age)) {
		ret = rc_chunk(f, i, min_age, sc);
		if (ret < 0)
			return done ? done : ret;
		done += ret;
		i++;
	}
	return done;
}

/* ---------------------------------------------------------------------
 * Dictionaries (see codec.h for what they gain).  Before its first chunk
 * of a codec, a recompression pass trains the store's dictionary for that
 * codec from samples of the chunks it is about to recompress: every
 * stride-th candidate, decoded, its first DICT_SAMPLE_MAX bytes, up to
 * DICT_SAMPLE_BYTES in all, so the samples spread over the whole mount.
 * Measured (linux-6.1 tree, zstd:6): 16 MiB spread over the tree 217 MiB,
 * the tree's first 16 MiB 225, no dictionary 240.  A dictionary is made
 * once and kept for the store's life: chunks coded against it need it,
 * and one per codec keeps the record to one bit (INFO_DICT).  It costs
 * about 250 KiB (zstd: ours and the decoder's digested copy), so it waits
 * for DICT_MIN_DATA of candidates, which it saves 10-20 % of; fewer, or
 * samples the trainer rejects, put the next try off until the store has
 * twice as many chunks.
 * ------------------------------------------------------------------- */

#define DICT_SAMPLE_BYTES (16u << 20)
#define DICT_SAMPLE_MAX	  (64u << 10)
#define DICT_MIN_DATA	  (16u << 20) /* uncompressed bytes of candidates */
#define DICT_MIN_SAMPLES  (4u << 20)

struct dict_sampler {
	uint32_t min_age;	/* first: rc_wants()'s argument */
	unsigned codec;		/* the dictionary's: candidates recompressed to it */
	uint64_t stride, seen;	/* take every stride-th candidate */
	uint8_t *buf;		/* samples back to back */
	size_t used, cap;
	size_t *sizes;
	unsigned n, max_n;
	const struct rc_pass *pass;
	struct scratch *sc;
};

static bool dict_wants(struct zr_store *s, const struct zr_chunk *r, const void *arg)
{
	const struct dict_sampler *ds = arg;

	return s->recomp[rec_codec(r)].id == ds->codec && rc_wants(s, r, &ds->min_age);
}

/* dict_sample_file(): add f's chosen candidates to ds.  false when ds is
 * full or the pass must give way. */
static bool dict_sample_file(struct zr_fdata *f, struct dict_sampler *ds,
			     const struct rc_pass *p, struct scratch *sc)
{
	uint8_t *copy = scratch_spillbuf(sc, chunk_size(f));
	struct zr_chunk r;
	uint64_t i = 0, gen;
	size_t take;

	if (!copy)
		return false;
	for (; find_candidate(f, &i, dict_wants, ds); i++) {
		if (rc_give_way(f->s, p) || ds->n == ds->max_n || ds->used == ds->cap)
			return false;
		if (ds->seen++ % ds->stride ||
		    !copy_candidate(f, i, dict_wants, ds, copy, &r, &gen) ||
		    decompress(f->s, &r, copy, r.u.obj.clen, sc->plain))
			continue;
		take = min_u64(min_u64(rec_ulen(&r), DICT_SAMPLE_MAX), ds->cap - ds->used);
		memcpy(ds->buf + ds->used, sc->plain, take);
		ds->used += take;
		ds->sizes[ds->n++] = take;
	}
	return true;
}

static int64_t dict_sample_fn(struct zr_fdata *f, void *arg)
{
	struct dict_sampler *ds = arg;

	return dict_sample_file(f, ds, ds->pass, ds->sc) ? 0 : WALK_STOP;
}

/* dict_train(): make the dictionary for codec from the candidates the
 * recompression codes with it, if there are enough.  dict_lock held. */
static void dict_train(struct zr_store *s, unsigned codec, const struct rc_pass *p,
		       struct scratch *sc)
{
	uint64_t chunks = ctr_get(&s->chunks), todo = ctr_get(&s->recomp_todo);
	uint64_t avg = chunks ? min_u64(ctr_get(&s->orig) / chunks, DICT_SAMPLE_MAX) : 1;
	struct dict_sampler ds = {.min_age = p->min_age, .codec = codec, .cap = DICT_SAMPLE_BYTES,
				  .pass = p, .sc = sc};
	struct zr_codec_dict *d = NULL;
	int ret = -EINVAL;

	if (todo * avg < DICT_MIN_DATA) {
		s->dict_retry[codec] = 2 * chunks;
		return;
	}
	ds.stride = max_u64(1, todo / (DICT_SAMPLE_BYTES / max_u64(avg, 1)));
	ds.max_n = (unsigned)min_u64(todo, DICT_SAMPLE_BYTES / 64);
	ds.buf = zr_malloc(ds.cap);
	ds.sizes = zr_malloc(ds.max_n * sizeof(*ds.sizes));
	if (ds.buf && ds.sizes) {
		files_walk(s, NULL, dict_sample_fn, &ds);
		if (rc_give_way(s, p))
			ret = 0; /* try again in the next pass */
		else if (ds.used >= DICT_MIN_SAMPLES)
			ret = zr_codec_dict_train(codec, ds.buf, ds.sizes, ds.n, &d);
	}
	zr_free(ds.sizes);
	zr_free(ds.buf);
	if (d)
		atomic_store_explicit(&s->dict[codec], d, memory_order_release);
	else if (ret == -EINVAL)
		s->dict_retry[codec] = 2 * chunks;
}

/* dict_prepare(): train the dictionaries this pass can use and has not. */
static void dict_prepare(struct zr_store *s, const struct rc_pass *p)
{
	struct scratch *sc;

	if (!s->dict_on)
		return;
	/* The background pass goes on without while another one trains; the
	 * control waits, and uses the dictionary. */
	if (!p->background)
		pthread_mutex_lock(&s->dict_lock);
	else if (pthread_mutex_trylock(&s->dict_lock))
		return;
	sc = scratch_get(1u << s->chunk_shift);
	for (unsigned c = 0; sc && c < ZR_CODEC_COUNT; c++) {
		unsigned to = s->recomp[c].id;

		if (to != ZR_CODEC_NONE && !atomic_load_explicit(&s->dict[to], memory_order_relaxed) &&
		    ctr_get(&s->chunks) >= s->dict_retry[to])
			dict_train(s, to, p, sc);
	}
	scratch_put(sc);
	pthread_mutex_unlock(&s->dict_lock);
}

/* The control runs one thread per compression worker (at most
 * RC_THREADS_MAX, at least 1): each walks every file and recompresses
 * those no other has claimed for this pass.  Measured on the linux-6.1
 * tree, zstd:3, 2 workers: 9.1 s, one thread 16 s (untar, then the control). */
#define RC_THREADS_MAX 8

struct rc_sweep_arg {
	struct zr_store *s;
	const struct rc_pass *pass;
	uint32_t claim;		/* this control pass's id; 0: background */
	struct scratch *sc;
	int64_t done;		/* chunks re-encoded smaller */
	int64_t err;		/* files_walk()'s result */
};

static int64_t rc_file_fn(struct zr_fdata *f, void *arg)
{
	struct rc_sweep_arg *a = arg;
	int64_t r;

	if (!ctr_get(&f->s->recomp_todo) || rc_give_way(f->s, a->pass))
		return WALK_STOP;
	if (a->claim && atomic_exchange_explicit(&f->rc_claim, a->claim,
						 memory_order_relaxed) == a->claim)
		return 0; /* another thread of this pass has it */
	r = rc_file(f, a->pass, a->sc);
	if (r > 0)
		a->done += r;
	return r;
}

/* rc_walk(): one thread's turn over every file: the background pass from
 * its clock hand (rc_hand), the control's from the first file (so it sees
 * them all even while a background pass moves the hand). */
static void *rc_walk(void *arg)
{
	struct rc_sweep_arg *a = arg;
	struct zr_store *s = a->s;

	a->sc = scratch_get(1u << s->chunk_shift); /* files' are <= */
	a->err = a->sc ? files_walk(s, a->pass->background ? &s->rc_hand : NULL, rc_file_fn, a)
		       : -ENOMEM;
	scratch_put(a->sc);
	return NULL;
}

/* rc_sweep(): one pass (see rc_walk()).  Chunks re-encoded smaller, or
 * the first error if none was. */
static int64_t rc_sweep(struct zr_store *s, const struct rc_pass *p)
{
	struct rc_sweep_arg a[RC_THREADS_MAX];
	pthread_t th[RC_THREADS_MAX];
	unsigned n = 1, started;
	uint32_t claim = 0;
	int64_t done = 0, err = 0;

	dict_prepare(s, p);
	if (!p->background) {
		n = s->workers < RC_THREADS_MAX ? s->workers : RC_THREADS_MAX;
		n = n ? n : 1;
		do /* 0 is "no claim" */
			claim = atomic_fetch_add_explicit(&s->rc_passes, 1, memory_order_relaxed) + 1;
		while (!claim);
	}
	for (unsigned i = 0; i < n; i++)
		a[i] = (struct rc_sweep_arg){.s = s, .pass = p, .claim = claim};
	for (started = 1; started < n; started++)
		if (pthread_create(&th[started], NULL, rc_walk, &a[started]))
			break; /* fewer threads, same work */
	rc_walk(&a[0]);
	for (unsigned i = 1; i < started; i++)
		pthread_join(th[i], NULL);
	for (unsigned i = 0; i < started; i++) {
		done += a[i].done;
		if (!err && a[i].err < 0 && a[i].err != WALK_STOP)
			err = a[i].err;
	}
	return done ? done : err;
}

int64_t zr_store_recompress(struct zr_store *s, bool all)
{
	struct rc_pass p = {.min_age = all ? 0 : (s->recomp_idle ? s->recomp_idle : 1)};
	int64_t n;

	if (!recomp_on(s))
		return -ENODEV;
	zr_store_sync(s); /* staged chunks become candidates too */
	n = rc_sweep(s, &p);
	/* Asked for now: give the holes the old objects left back now too
	 * (in the background the housekeeper's compaction policy does). */
	if (n > 0)
		zr_arena_compact(s->arena);
	return n;
}

static void *rc_main(void *arg)
{
	struct zr_store *s = arg;
	struct sched_param sp = {0};
	struct timespec t0, dl;
	uint32_t quiet;

	/* Only CPU time nobody else wants; failing that, run as we are. */
	(void)pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_mutex_lock(&s->rc_lock);
	while (!atomic_load_explicit(&s->rc_stop, memory_order_relaxed)) {
		clock_gettime(CLOCK_REALTIME, &dl); /* the condvar's clock */
		dl.tv_sec++;
		pthread_cond_timedwait(&s->rc_cv, &s->rc_lock, &dl);
		if (atomic_load_explicit(&s->rc_stop, memory_order_relaxed))
			break;
		pthread_mutex_unlock(&s->rc_lock);
		if (!s->spill) /* else wb_main() keeps the clock */
			clock_advance(s, &t0);
		quiet = clock_now(s) - atomic_load_explicit(&s->last_write, memory_order_relaxed);
		if (ctr_get(&s->recomp_todo) && quiet >= RC_QUIET) {
			struct rc_pass p = {.min_age = s->recomp_idle, .background = true,
					    .write_mark = atomic_load_explicit(&s->last_write,
									memory_order_relaxed)};

			rc_sweep(s, &p);
		}
		pthread_mutex_lock(&s->rc_lock);
	}
	pthread_mutex_unlock(&s->rc_lock);
	return NULL;
}

static void rc_stop(struct zr_store *s)
{
	if (!s->rc_running)
		return;
	pthread_mutex_lock(&s->rc_lock);
	atomic_store_explicit(&s->rc_stop, true, memory_order_relaxed);
	pthread_cond_broadcast(&s->rc_cv);
	pthread_mutex_unlock(&s->rc_lock);
	pthread_join(s->rc_thread, NULL);
	s->rc_running = false;
}

/* ---------------------------------------------------------------------
 * Promotion: a spilled chunk that is read again comes back into RAM when
 * there is room: arena + staging below PROMOTE_NUM/WB_DEN of mem_limit
 * (always without a limit), well under the writeback's high watermark so
 * promotion and pressure writeback never chase each other.  Done after
 * the read, under the file's exclusive lock: the extent is read again
 * (from the page cache, it was just read), copied into a new arena
 * object, and freed.
 * ------------------------------------------------------------------- */

#define PROMOTE_NUM 7

static bool promote_room(struct zr_store *s, uint32_t need)
{
	uint64_t limit = ctr_get(&s->mem_limit);

	return !limit || mem_used(s) + need < limit / WB_DEN * PROMOTE_NUM;
}

static void promote_chunk(struct zr_fdata *f, uint64_t idx)
{
	struct zr_store *s = f->s;
	struct zr_chunk r = rec_get(f, idx), nr;
	uint32_t clen = r.u.obj.clen;
	struct scratch *sc;
	uint8_t *buf;
	zr_handle_t h;
	int ret;

	if (rec_state(&r) != CS_SPILLED || !promote_room(s, clen))
		return;
	sc = scratch_take();
	buf = sc ? scratch_spillbuf(sc, chunk_size(f)) : NULL;
	ret = !buf || zr_spill_read(s->spill, r.u.obj.handle, buf, clen) ||
	      obj_new(s, buf, clen, &h);
	scratch_put(sc);
	if (ret)
		return;
	nr = r;
	nr.info &= ~INFO_SPILLED;
	nr.u.obj.handle = h;
	rec_update(f, idx, &r, &nr);
	zr_spill_free(s->spill, r.u.obj.handle, clen);
	ctr_add(&s->promoted, 1);
}

static void promote_range(struct zr_fdata *f, uint64_t off, uint64_t len)
{
	uint64_t first = off >> f->chunk_shift, last = (off + len - 1) >> f->chunk_shift;

	if (!promote_room(f->s, chunk_size(f)))
		return;
	pthread_rwlock_wrlock(&f->lock);
	for (uint64_t i = first; i <= last; i++)
		promote_chunk(f, i);
	pthread_rwlock_unlock(&f->lock);
}

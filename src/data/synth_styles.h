/*
 * synth_styles.h — the writing styles of the embedded corpus's five sources
 * (src/data/synth.c): query templates and passage sentence templates. Data
 * only, included once.
 */
#ifndef STRATA_SYNTH_STYLES_H
#define STRATA_SYNTH_STYLES_H

#include "strata/data.h"

typedef struct style {
    const char *name;
    int title_case;              /* queries in Title Case (titles, headlines) */
    const char *query[6];        /* templates, '_' = a slot, NULL-terminated;
                                    one source's query templates hold the same
                                    words in different orders, so bag-of-words
                                    embedders see no template variance inside
                                    a source (it would swamp the topics)     */
    const char *sentence[5];     /* the 4 sentence templates every passage of the
                                    source uses once each, NULL-terminated */
} style;

static const style styles[STRATA_SYNTH_SOURCES] = {
    {"forum_qa", 0,
     {"how does _ affect _ in _ _ _ ?", "in _ _ _ how does _ affect _ ?",
      "how does _ _ affect _ in _ _ ?", NULL},
     {"good question , _ usually changes the _ .", "in my experience _ works with _ because of _ .",
      "the answer is that _ depends on _ and _ .", "you should check _ before _ .", NULL}},
    {"paper_titles", 1,
     {"_ _ : a study of _ in _ _", "a study of _ _ in _ _ : _", "_ in _ _ : a study of _ _",
      NULL},
     {"we propose a novel _ for _ .", "in this paper we study _ and _ .",
      "our results show that _ improves _ .", "experiments on _ demonstrate _ .", NULL}},
    {"search_logs", 0,
     {"_ _ _ _ _ guide", "guide _ _ _ _ _", "_ _ guide _ _ _", NULL},
     {"learn more about _ and _ on this page .", "our guide to _ covers _ , _ and more .",
      "click here to compare _ with _ .", "top tips for _ : _ .", NULL}},
    {"claims", 0,
     {"_ increases _ in _ _ _ .", "in _ _ _ _ increases _ .", "_ _ increases _ in _ _ .", NULL},
     {"evidence from _ supports the link between _ and _ .", "a trial of _ found _ .",
      "data on _ indicate _ .", "however _ was not observed in _ .", NULL}},
    {"news_headlines", 1,
     {"_ says _ _ rises in _ _", "in _ _ _ says _ rises _", "_ _ rises in _ _ says _", NULL},
     {"officials said on tuesday that _ will expand _ .", "the _ announcement follows _ .",
      "reporters in _ confirmed _ .", "according to a statement , _ expects _ .", NULL}},
};

#endif

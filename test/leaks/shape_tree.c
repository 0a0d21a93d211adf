// case: a leaked binary tree of seven nodes is one direct leak (the root) and six indirect; a tree kept in a global is not reported
// expect: direct_objects=1 direct_bytes=24 indirect_objects=6 indirect_bytes=144
// expect-leak: function=leak_tree kind=direct objects=1 bytes=24
// expect-leak: function=leak_tree kind=indirect objects=6 bytes=144
// expect-not-reported: keep_tree
/* Both trees are built by the same recursive tree_build() -> tree_node_new(); they differ by
 * the caller, leak_tree() or keep_tree(), which is in every node's allocation stack (the
 * recursion is three deep, well within 16 frames). */
#include "leakcase.h"

struct tnode {
    struct tnode *left, *right;
    long key;
};

static struct tnode *volatile kept_root;

static NOINLINE struct tnode *tree_node_new(long key)
{
    struct tnode *t = malloc(sizeof *t);
    if (!t)
        die("malloc failed");
    t->key = key;
    t->left = t->right = NULL;
    return t;
}

static NOINLINE struct tnode *tree_build(int depth, long key)
{
    struct tnode *t = tree_node_new(key);
    if (depth > 1) {
        t->left = tree_build(depth - 1, 2 * key);
        t->right = tree_build(depth - 1, 2 * key + 1);
    }
    return t;
}

static NOINLINE void leak_tree(void)
{
    struct tnode *volatile root = tree_build(3, 1);
    if (root->key != 1)
        die("tree broken");
    root = NULL;
}

static NOINLINE void keep_tree(void)
{
    kept_root = tree_build(2, 1);
}

int main(void)
{
    leak_tree();
    keep_tree();
    scrub();
    return 0;
}

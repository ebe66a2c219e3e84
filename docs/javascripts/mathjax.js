// MathJax 3, served from the site itself (vendored at build time by docs/_hooks.py).
// Markdown pages: pymdownx.arithmatex wraps formulas in \( \) / \[ \] inside .arithmatex.
// Notebook pages (mkdocs-jupyter): markdown cells keep $ / $$, inside .jp-RenderedMarkdown.
window.MathJax = {
  tex: { inlineMath: [["\\(", "\\)"], ["$", "$"]], displayMath: [["\\[", "\\]"], ["$$", "$$"]],
         processEscapes: true, processEnvironments: true },
  // Skip every element that has a class (its subtree inherits that), except the two above;
  // classless elements (the <p>, <li> of a notebook cell) inherit from their parent.
  options: { ignoreHtmlClass: ".+", processHtmlClass: "arithmatex|jp-RenderedMarkdown" }
};
if (typeof document$ !== "undefined") {
  document$.subscribe(() => { if (MathJax.typesetPromise) MathJax.typesetPromise() })
}

/// Hotlist of cards terminals must refuse (issue 5). See docs/hotlist.md.
enum HotlistModule {}

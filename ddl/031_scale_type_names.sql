-- 031_scale_type_names.sql — one form of sessions.scale_type: the scale type's name.
--
-- `practice` stored the type's name ('minor pentatonic'); `analyze --save` stored its key
-- ('minor_pentatonic'), so the chat agent, told the first form, missed analysed sessions. Both
-- now go through practice.summary.session_fields(); this turns stored keys into names (the
-- pairs of music/scales.py's scale table). FORCE ROW LEVEL SECURITY is lifted for this one
-- statement, in this transaction, so the table owner sees every user's rows; idempotent.

ALTER TABLE fretcoach.sessions NO FORCE ROW LEVEL SECURITY;

UPDATE fretcoach.sessions AS s
   SET scale_type = v.name
  FROM (VALUES
    ('natural_minor', 'natural minor'),
    ('minor_pentatonic', 'minor pentatonic'),
    ('major_pentatonic', 'major pentatonic'),
    ('major_blues', 'major blues'),
    ('harmonic_minor', 'harmonic minor'),
    ('melodic_minor', 'melodic minor'),
    ('phrygian_dominant', 'phrygian dominant'),
    ('lydian_dominant', 'lydian dominant'),
    ('hungarian_minor', 'hungarian minor'),
    ('whole_tone', 'whole tone'),
    ('diminished_hw', 'half-whole diminished'),
    ('diminished_wh', 'whole-half diminished')
  ) AS v (key, name)
 WHERE s.scale_type = v.key;

ALTER TABLE fretcoach.sessions FORCE ROW LEVEL SECURITY;

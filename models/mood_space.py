"""pixtape's mood space, as the offline derivation sees it.

The dimension names and their order must equal `src/engine/mood/mod.rs`; the test suite
checks the derived tables' headers against the Rust definition. Each
dimension has descriptor sentences: what it means in words, used to embed
it with all-MiniLM-L6-v2. Styles also describe where such music is heard,
so that scenes (a neon street, a beach) relate to styles through text.
"""

MOODS = {
    "calm": ["calm, peaceful, serene and quiet", "relaxing, tranquil and still"],
    "energetic": ["energetic, lively, fast and full of energy", "intense, exciting and dynamic"],
    "happy": ["happy, cheerful and joyful", "bright, sunny and fun"],
    "melancholic": ["melancholic, sad and wistful", "lonely, grey and sorrowful"],
    "romantic": ["romantic, tender and loving", "intimate, warm and sensual"],
    "hopeful": ["hopeful, uplifting and inspiring", "optimistic, a new dawn"],
    "tense": ["tense, dark and threatening", "anxious, menacing and aggressive"],
    "dreamy": ["dreamy, ethereal and floating", "hazy, soft and otherworldly"],
    "nostalgic": ["nostalgic, old-fashioned and bittersweet", "vintage memories of the past"],
    "epic": ["epic, grand and majestic", "heroic, monumental and powerful"],
    "playful": ["playful, funny and whimsical", "childlike, light-hearted and silly"],
    "mysterious": ["mysterious, enigmatic and eerie", "strange, secret and shadowy"],
}

STYLES = {
    "acoustic": ["acoustic music with guitar and piano, unplugged", "soft acoustic songs by a campfire or a quiet beach"],
    "ambient": ["ambient music, atmospheric drones and soundscapes", "calm ambient music for the sea, the sky and meditation"],
    "classical": ["classical music, orchestra, symphony and piano sonatas", "a concert hall with violins and a conductor"],
    "electronic": ["electronic dance music with synthesizers and drum machines", "club music for neon city streets at night"],
    "hiphop": ["hip-hop and rap music with beats and rhymes", "urban street music from the city, rappers and graffiti"],
    "rock": ["rock music with electric guitars and drums", "loud rock band on stage, rock and roll"],
    "pop": ["pop music, catchy radio hits and singers", "upbeat pop songs for summer and parties"],
    "jazz": ["jazz music with saxophone, trumpet and piano", "a smoky jazz club, swing and bebop"],
    "folk": ["folk music, traditional songs with acoustic guitar and fiddle", "country and folk songs of the countryside"],
    "soundtrack": ["film soundtrack and cinematic orchestral score", "epic movie music for adventure and drama"],
    "soul": ["soul, funk and r&b music with groove", "rhythm and blues, motown and funky bass"],
    "world": ["world music, latin, reggae and traditional music of many cultures", "tropical music with drums from distant lands"],
    "metal": ["heavy metal music with distorted guitars and screaming", "dark and aggressive metal and hard rock"],
}

THEMES = {
    "nature": ["nature, forests, mountains, flowers and animals", "the countryside, trees and wildlife"],
    "urban": ["a city with streets, buildings, cars and traffic", "urban downtown, architecture and crowds"],
    "night": ["night time, darkness, moon and city lights", "late at night, neon and shadows"],
    "water": ["water, the sea, a beach, a lake or a river", "ocean waves, the shore and boats"],
    "party": ["a party, a festival, a concert and dancing", "celebration with friends, lights and music"],
    "summer": ["summer, sunshine, heat and holidays", "a sunny day at the beach"],
    "winter": ["winter, snow, ice and cold", "a frozen landscape in december"],
    "love": ["love, a couple, a wedding and romance", "hearts, kisses and flowers for a lover"],
    "travel": ["travel, a journey, a road trip and adventure", "trains, planes and far-away places"],
    "sport": ["sport, a game, athletes and competition", "running, football and the gym"],
}

# Circumplex positions (valence, arousal) on [-1, 1] of the mood labels,
# after Russell (1980), "A circumplex model of affect", and Posner, Russell
# & Peterson (2005): used to derive label scores from valence/arousal alone.
MOOD_VA = {
    "calm": (0.40, -0.70),
    "energetic": (0.40, 0.80),
    "happy": (0.85, 0.35),
    "melancholic": (-0.60, -0.45),
    "romantic": (0.60, -0.15),
    "hopeful": (0.60, 0.20),
    "tense": (-0.55, 0.70),
    "dreamy": (0.30, -0.50),
    "nostalgic": (0.05, -0.35),
    "epic": (0.20, 0.75),
    "playful": (0.70, 0.55),
    "mysterious": (-0.25, -0.10),
}

# Affect anchors for pictures are scene descriptions (a photo of a seashore
# is calm because of the scene, not because of an adjective) ...
SCENE_VALENCE_ANCHORS = (
    ["a pleasant, beautiful and happy scene", "a lovely, delightful and comforting place"],
    ["an unpleasant, ugly, sad or frightening scene", "a miserable, dangerous and threatening place"],
)
SCENE_AROUSAL_ANCHORS = (
    ["an exciting, busy, loud and crowded scene full of action", "a wild, frantic and intense moment"],
    ["a calm, quiet, empty and peaceful scene where nothing moves", "a gentle, slow, restful and serene place"],
)
# ... and for tags, adjectives of music.
VALENCE_ANCHORS = (
    ["pleasant, happy, joyful and beautiful", "delightful, lovely and comforting"],
    ["unpleasant, sad, gloomy and ugly", "miserable, painful and threatening"],
)
AROUSAL_ANCHORS = (
    ["exciting, intense, loud and energetic", "wild, frantic, action and adrenaline"],
    ["calm, quiet, still and sleepy", "slow, gentle, soft and restful"],
)

NAMES = ["valence", "arousal"] + list(MOODS) + list(STYLES) + list(THEMES)

# The tag vocabulary: common genre, mood, theme, occasion and instrument
# tags as music services and datasets use them. Catalog tags are matched
# after lower-casing and dropping everything but letters and digits, so
# "Hip-Hop", "hip hop" and "hiphop" are one tag.
GENRE_TAGS = """
acid jazz, acid house, afrobeat, alternative, alternative rock, ambient, ambient house, americana, anime,
art rock, avant-garde, bachata, ballad, baroque, bebop, big band, bluegrass, blues, blues rock, bolero,
bossa nova, breakbeat, britpop, celtic, chamber music, chanson, chillhop, chillout, chillwave, choral,
christian, classic rock, classical, club, contemporary, contemporary classical, cool jazz, country,
country rock, cumbia, dance, dance pop, dancehall, dark ambient, darkwave, death metal, deep house, disco,
doom metal, downtempo, dream pop, drill, drone, drum and bass, dub, dubstep, easy listening, edm, electro,
electro house, electronic, electronica, electropop, emo, ethno, eurodance, experimental, flamenco, folk,
folk rock, free jazz, funk, fusion, future bass, g-funk, garage, glam rock, gospel, gothic, grime, grunge,
hard rock, hardcore, hardstyle, heavy metal, hip hop, rap, house, idm, indie, indie folk, indie pop,
indie rock, industrial, instrumental hip hop, instrumental pop, instrumental rock, j-pop, jazz, jazz fusion,
jungle, k-pop, krautrock, latin, latin jazz, lo-fi, lounge, mambo, medieval, merengue, metal, metalcore,
minimal, minimal techno, modern classical, motown, musical, neo soul, new age, new wave, noise, nu jazz,
nu metal, opera, orchestral, pop, pop punk, pop rock, post punk, post rock, power metal, progressive,
progressive house, progressive rock, psychedelic rock, psytrance, punk, punk rock, r&b, rnb, ragtime,
reggae, reggaeton, rock, rock and roll, rockabilly, romantic era, salsa, samba, shoegaze, singer-songwriter,
ska, smooth jazz, soft rock, soul, soundtrack, space rock, swing, symphonic, symphonic metal, synthpop,
synthwave, tango, techno, thrash metal, trance, trap, trip hop, tropical house, vaporwave, world,
world fusion, zouk, 60s, 70s, 80s, 90s, 00s, oldies, score, film score, video game music, lullaby,
children's music, christmas music, instrumental, poprock, popfolk, darkwave, newage, easylistening,
worldfusion, eurodance, rocknroll, classicrock, jazzfusion, bluesrock, instrumentalpop, instrumentalrock,
electro swing, lounge jazz, nu disco, french house, uk garage, footwork, vocal jazz, gregorian chant,
renaissance, early music, minimalism, piano solo, string quartet, brass band, marching band, polka,
fado, klezmer, bhangra, bollywood, afro house, amapiano, highlife, calypso, soca, mariachi, tejano,
unplugged, brostep, afrobeats, drumnbass, improvisation,
""".replace("\n", " ").split(",")

MOOD_TAGS = """
happy, sad, calm, relaxing, relaxed, peaceful, serene, meditative, energetic, upbeat, uplifting,
inspiring, motivational, melancholic, melancholy, romantic, dark, tense, aggressive, angry, epic,
dramatic, emotional, melodic, dreamy, dream, ethereal, nostalgic, hopeful, joyful, cheerful, fun, funny,
playful, mysterious, eerie, haunting, scary, spooky, sexy, sensual, groovy, groove, chill, chilled, mellow,
soft, slow, fast, powerful, heavy, hard, intense, triumphant, heroic, majestic, sentimental, bittersweet,
lonely, gloomy, moody, brooding, somber, atmospheric, hypnotic, trippy, psychedelic, quirky, whimsical,
cute, warm, cool, lush, smooth, gentle, tender, soothing, quiet, loud, raw, gritty, rebellious,
confident, carefree, positive, optimistic, festive, euphoric, ecstatic, exciting, thrilling, suspenseful,
anxious, horror, spiritual, sacred, contemplative, reflective, introspective, deep, feel good, retro, vintage,
ambiental, action, drama, background, soundscape, dance, danceable, catchy, anthemic, cinematic, elegant,
""".replace("\n", " ").split(",")

THEME_TAGS = """
summer, winter, spring, autumn, christmas, holiday, travel, road trip, adventure, nature, ocean, sea,
beach, rain, night, city, urban, street, sunset, sunrise, morning, evening, space, film, movie,
documentary, trailer, advertising, commercial, corporate, children, game, sport, workout, running,
driving, cooking, dinner, wedding, party, club, study, sleep, focus, yoga, meditation, coffee shop, bar,
love, water, forest, mountains, desert, tropical, island, rainy day, late night, romance, heartbreak,
celebration, birthday, sunday, weekend, work, gym, fitness, road, freedom, youth, dreams, home,
""".replace("\n", " ").split(",")

INSTRUMENT_TAGS = """
piano, guitar, acoustic guitar, electric guitar, bass, drums, strings, violin, cello, orchestra,
synthesizer, synth, saxophone, trumpet, flute, harp, organ, accordion, voice, vocal, vocals, female vocal,
male vocal, choir, beat, drum machine, sampler, percussion, bells, harmonica, banjo, ukulele, mandolin,
sitar, acoustic, electric, electronic beats, rhodes, brass, clarinet, oboe, horn, keyboard, pad,
computer, electric piano, classical guitar, trombone, bell, double bass, viola, bongo, acoustic bass guitar,
pipe organ, electric bass, samples, beats,
""".replace("\n", " ").split(",")


def tag_vocabulary():
    """(kind, display name) for every tag, first occurrence kept."""
    seen, out = set(), []
    for kind, block in (("genre", GENRE_TAGS), ("mood", MOOD_TAGS), ("theme", THEME_TAGS), ("instrument", INSTRUMENT_TAGS)):
        for t in block:
            t = " ".join(t.split())
            k = tag_key(t)
            if k and k not in seen:
                seen.add(k)
                out.append((kind, t))
    return out


def tag_key(tag):
    return "".join(ch for ch in tag.lower() if ch.isalnum())

# Parent styles of the genre tags (musicological families, as in the genre
# hierarchies of music encyclopaedias): 1.0 for the family a genre belongs
# to, 0.5 for a second family it borrows from. Text embeddings place genre
# names poorly ("house", "salsa" and "drum and bass" read as everyday
# words), so for genre tags this table, not the embedding, sets the styles.
GENRE_FAMILIES = {
    "acoustic": "acoustic, singer-songwriter, indie folk, lullaby, unplugged, piano solo, chanson:folk, bossa nova:world, americana:folk, bluegrass:folk, ballad:pop",
    "ambient": "ambient, ambient house:electronic, dark ambient, drone, new age, newage, chillout:electronic, chillwave:electronic, downtempo:electronic, atmospheric, lounge:jazz, easy listening:pop, easylistening:pop, space rock:rock, shoegaze:rock, minimal, minimalism:classical, lo-fi:hiphop, chillhop:hiphop, vaporwave:electronic, dream pop:pop, post rock:rock",
    "classical": "classical, baroque, chamber music, choral, contemporary classical, modern classical, opera, orchestral, romantic era, symphonic, medieval, renaissance, early music, gregorian chant, string quartet, contemporary, minimalism, musical:pop, score:soundtrack, film score:soundtrack, brass band, marching band",
    "electronic": "electronic, acid house, avant-garde:classical, electronica, electro, electro house, house, deep house, progressive house, tropical house, french house, afro house:world, techno, minimal techno, trance, psytrance, hardstyle, hardcore, edm, club, dance, dance pop:pop, eurodance, disco:soul, nu disco, synthpop:pop, synthwave, electropop:pop, idm, breakbeat, drum and bass, drumnbass, jungle, dubstep, brostep, future bass, garage, uk garage, footwork:hiphop, industrial:rock, darkwave:rock, new wave:rock, trip hop:hiphop, downtempo, amapiano:world, electro swing:jazz, krautrock:rock, experimental, noise, video game music, ambient house, chillwave, vaporwave",
    "hiphop": "hip hop, rap, trap, drill, grime, g-funk, instrumental hip hop, trip hop:electronic, lo-fi, chillhop, footwork",
    "rock": "rock, alternative, alternative rock, art rock, blues rock:folk, britpop:pop, classic rock, country rock:folk, folk rock:folk, glam rock, grunge, hard rock, indie, indie rock, instrumental rock, krautrock, pop punk:pop, pop rock:pop, poprock:pop, post punk, post rock, progressive, progressive rock, psychedelic rock, punk, punk rock, rock and roll, rocknroll, rockabilly, soft rock:pop, space rock, emo, shoegaze, garage, gothic, classicrock, bluesrock, instrumentalrock, 60s, 70s",
    "pop": "pop, dance pop, dream pop, electropop, indie pop, instrumental pop, instrumentalpop, j-pop, k-pop, synthpop, britpop, pop rock, poprock, popfolk:folk, easy listening, easylistening, ballad, musical, 80s, 90s, 00s, oldies, christmas music, children's music, eurodance:electronic",
    "jazz": "jazz, improvisation, acid jazz, bebop, big band, cool jazz, free jazz, fusion, jazz fusion, jazzfusion, latin jazz:world, nu jazz:electronic, smooth jazz, swing, vocal jazz, lounge jazz, electro swing:electronic, ragtime, lounge",
    "folk": "folk, americana, bluegrass, blues, celtic, country, country rock:rock, folk rock:rock, indie folk, popfolk:pop, singer-songwriter:acoustic, gospel:soul, christian, chanson, polka:world, fado:world, klezmer:world, blues rock:rock, bluesrock:rock, medieval:classical",
    "soundtrack": "soundtrack, score, film score, orchestral:classical, video game music:electronic, anime:pop, musical, trailer, epic",
    "soul": "soul, neo soul, funk, motown, r&b, rnb, disco, gospel, g-funk:hiphop, acid jazz:jazz, 70s",
    "world": "world, world fusion, worldfusion, ethno, afrobeat, afrobeats, afro house, amapiano, bachata, bolero, bossa nova, calypso, celtic:folk, cumbia, dancehall, dub, fado, flamenco, highlife, klezmer, latin, mambo, mariachi, merengue, reggae, reggaeton, salsa, samba, ska, soca, tango, tejano, zouk, bhangra, bollywood, polka, latin jazz:jazz, tropical house:electronic",
    "metal": "metal, heavy metal, death metal, doom metal, metalcore, nu metal, power metal, symphonic metal:classical, thrash metal, hardcore:rock, industrial, gothic, noise",
}


def genre_styles():
    """tag key -> {style: weight} from GENRE_FAMILIES."""
    out = {}
    for style, listing in GENRE_FAMILIES.items():
        for item in listing.split(","):
            name, _, second = item.strip().partition(":")
            d = out.setdefault(tag_key(name), {})
            d[style] = max(d.get(style, 0.0), 1.0)
            if second:
                d[second] = max(d.get(second, 0.0), 0.5)
    return out

"""The MovieLens editions this project reads: one registry entry per edition.

Everything edition-specific (file names, separators, encodings, headers,
rating scale, genre encoding, download URL and checksums) lives here, so the
loaders, the fetcher and the synthetic generator agree on the same facts.

Checksums, with their sources:
- zip MD5: the values GroupLens publishes next to each zip
  (`https://files.grouplens.org/datasets/movielens/<name>.zip.md5`), as quoted
  by several public downloaders; ml-latest-small's was re-checked on a local
  copy (/work/shared/data/README.md).
- zip sha256 and size: TensorFlow Datasets' `url_checksums/movielens.txt`
  (ml-100k, ml-1m, ml-20m, ml-25m, ml-latest-small).
- per-file sha256: measured on verified copies of ml-100k and ml-latest-small.
`None` means no trustworthy published value was found; such data is checked
for completeness only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.errors import DatasetError

BASE_URL = "https://files.grouplens.org/datasets/movielens"

# u.genre of ml-100k, in flag order (index 0 is the placeholder "unknown").
GENRES_100K = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
# Genre values that mean "none": 100k's flag 0 and the CSV editions' marker.
NO_GENRE_MARKERS = frozenset({"unknown", "(no genres listed)"})

# u.occupation of ml-100k.
OCCUPATIONS_100K = (
    "administrator",
    "artist",
    "doctor",
    "educator",
    "engineer",
    "entertainment",
    "executive",
    "healthcare",
    "homemaker",
    "lawyer",
    "librarian",
    "marketing",
    "none",
    "other",
    "programmer",
    "retired",
    "salesman",
    "scientist",
    "student",
    "technician",
    "writer",
)

# ml-1m README, users.dat: occupation codes 0..20.
OCCUPATIONS_1M = (
    "other",
    "academic/educator",
    "artist",
    "clerical/admin",
    "college/grad student",
    "customer service",
    "doctor/health care",
    "executive/managerial",
    "farmer",
    "homemaker",
    "K-12 student",
    "lawyer",
    "programmer",
    "retired",
    "sales/marketing",
    "scientist",
    "self-employed",
    "technician/engineer",
    "tradesman/craftsman",
    "unemployed",
    "writer",
)
# ml-1m README, users.dat: age codes are the lower bound of a band (1 = "Under 18", 56 = "56+").
AGE_CODES_1M = (1, 18, 25, 35, 45, 50, 56)

# ml-1m / ml-10m genre vocabulary (README); the CSV editions add IMAX, "Children" and "(no genres listed)".
GENRES_DAT = GENRES_100K[1:]
GENRES_CSV = (
    "Action",
    "Adventure",
    "Animation",
    "Children",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "IMAX",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)

INTEGER_STARS = tuple(float(v) for v in range(1, 6))
HALF_STARS = tuple(v / 2 for v in range(1, 11))


@dataclass(frozen=True)
class TableFile:
    """One table's file inside an edition's folder and how to parse it."""

    file: str
    sep: str
    encoding: str  # "latin-1", "utf-8", or "utf-8|latin-1" (UTF-8, lines that fail fall back to latin-1)
    fields: tuple[str, ...]  # source columns in file order
    header: str | None = None  # the literal header line, when the file has one
    quoted: bool = False  # CSV quoting (titles and tags may hold commas and quotes)


@dataclass(frozen=True)
class Dataset:
    """A MovieLens edition: where it comes from and how its files look."""

    name: str
    folder: str
    family: str  # "100k" | "dat" | "csv": the file layout
    ratings: TableFile
    movies: TableFile
    rating_values: tuple[float, ...]
    genre_format: str  # "flags" (100k: one 0/1 column per genre) | "pipe"
    genres: tuple[str, ...]
    users: TableFile | None = None
    tags: TableFile | None = None
    links: TableFile | None = None
    zip_md5: str | None = None
    zip_sha256: str | None = None
    zip_bytes: int | None = None
    file_sha256: dict[str, str] = field(default_factory=dict)
    extra_files: tuple[str, ...] = ()  # shipped, not loaded
    folds: tuple[str, ...] = ()  # official split files, same format as ratings
    rating_years: tuple[int, int] = (1995, 2018)  # years the ratings span (README); shapes synthetic timestamps
    rows: dict[str, int] = field(default_factory=dict)  # published row counts

    @property
    def url(self) -> str:
        return f"{BASE_URL}/{self.name}.zip"

    @property
    def zip_name(self) -> str:
        return f"{self.name}.zip"

    @property
    def tables(self) -> dict[str, TableFile]:
        """The tables this edition has, by canonical table name."""
        found = {"ratings": self.ratings, "movies": self.movies}
        for name in ("users", "tags", "links"):
            table = getattr(self, name)
            if table is not None:
                found[name] = table
        return found

    @property
    def required_files(self) -> tuple[str, ...]:
        """Files that must be present for the edition to load."""
        return tuple(t.file for t in self.tables.values())

    @property
    def rating_range(self) -> tuple[float, float]:
        return (min(self.rating_values), max(self.rating_values))


def _csv_edition(
    name: str,
    *,
    zip_md5: str | None,
    zip_sha256: str | None = None,
    zip_bytes: int | None = None,
    file_sha256: dict[str, str] | None = None,
    extra_files: tuple[str, ...] = (),
    rating_years: tuple[int, int],
    rows: dict[str, int],
) -> Dataset:
    """ml-latest-small, ml-20m, ml-25m and ml-32m share one CSV layout (UTF-8, header row)."""
    return Dataset(
        name=name,
        folder=name,
        family="csv",
        ratings=TableFile(
            "ratings.csv",
            ",",
            "utf-8",
            ("userId", "movieId", "rating", "timestamp"),
            header="userId,movieId,rating,timestamp",
        ),
        movies=TableFile(
            "movies.csv", ",", "utf-8", ("movieId", "title", "genres"), header="movieId,title,genres", quoted=True
        ),
        tags=TableFile(
            "tags.csv",
            ",",
            "utf-8",
            ("userId", "movieId", "tag", "timestamp"),
            header="userId,movieId,tag,timestamp",
            quoted=True,
        ),
        links=TableFile("links.csv", ",", "utf-8", ("movieId", "imdbId", "tmdbId"), header="movieId,imdbId,tmdbId"),
        rating_values=HALF_STARS,
        genre_format="pipe",
        genres=GENRES_CSV,
        zip_md5=zip_md5,
        zip_sha256=zip_sha256,
        zip_bytes=zip_bytes,
        file_sha256=file_sha256 or {},
        extra_files=extra_files,
        rating_years=rating_years,
        rows=rows,
    )


_ML_100K = Dataset(
    name="ml-100k",
    folder="ml-100k",
    family="100k",
    ratings=TableFile("u.data", "\t", "latin-1", ("user id", "item id", "rating", "timestamp")),
    movies=TableFile(
        "u.item",
        "|",
        "latin-1",
        ("movie id", "movie title", "release date", "video release date", "IMDb URL", *GENRES_100K),
    ),
    users=TableFile("u.user", "|", "latin-1", ("user id", "age", "gender", "occupation", "zip code")),
    rating_values=INTEGER_STARS,
    genre_format="flags",
    genres=GENRES_100K,
    zip_md5="0e33842e24a9c977be4e0107933c0723",
    zip_sha256="50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
    zip_bytes=4_924_029,
    file_sha256={
        "README": "4883b8cf340ed0059971b33f56ad3adc88a40792108ebca3d24aafc4c82e8b52",
        "u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
        "u.genre": "9757e0d3e6b298159a80dd48eaf938114690e911e39af97a76949ef1663610bb",
        "u.info": "5b0a40b2e47a729ee6203063f6dcf8790c2e63f5a18663e6ee318a72c5f3c27b",
        "u.item": "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701",
        "u.occupation": "cd5fbec9afe345d993a62fc7817df1a4a9079c4feb267b3118763b8fd942137d",
        "u.user": "f120e114da2e8cf314fd28f99417c94ae9ddf1cb6db8ce0e4b5995d40e90e62c",
        "u1.base": "ce253ec86c448b44fb3ba9a30d12dcfc2e9210cbde71efada3730c22e9ac212a",
        "u1.test": "18c6014a4b2c7324f250a63f8904a7b16b2b19f911129e346141507b0cbac950",
        "u2.base": "6c06f0b5df4b256da1a994f3ac66edc8da4d3f09bc9282df6b14d893366d703e",
        "u2.test": "4de658d1e04ed9104629509a2e2528fce833ac8e048280183f1df167632038c3",
        "u3.base": "afdc155c291c6edc41c0407e39d7462eb98d341e064f0b0a12175b80b3c4af5d",
        "u3.test": "0f548b51c78327de4c156461d3e430b7e5579fe2b5681586a59416e48fd35f6d",
        "u4.base": "219f0f4d40dfe9c5141d425f53fa91ee23ed275f14e280bbf1b50117afb064ca",
        "u4.test": "7c02ad0a1e7ab1083c8b9d4b627203a051dd7b5eab46d99fa44de33470de8db9",
        "u5.base": "a9574e59ce961eec2121627760b6e9b0974ce1637b3fe69ac32cb14a4bfab485",
        "u5.test": "351cc52e0d15b6c721466276fc24671d40936899e3d01fadeaf312915b8c5634",
        "ua.base": "67b5bcdb380c29f85d56a012ecd88612ae020f30a6730d117a334ee8203b91f2",
        "ua.test": "d0497e202417720f57a184ec8c66be2d1afa4ff41bb53787c57b28d6bf79bc42",
        "ub.base": "237254d253b6ad7de84f919d041055428646254f34ed8f562703c899430cd881",
        "ub.test": "d54a72d05730d5892062734b2bec73e976f9b713d18c828a18b968d6cce442da",
    },
    extra_files=("README", "u.genre", "u.info", "u.occupation"),
    folds=tuple(f"u{i}.{part}" for i in range(1, 6) for part in ("base", "test"))
    + ("ua.base", "ua.test", "ub.base", "ub.test"),
    rating_years=(1997, 1998),
    rows={"ratings": 100_000, "movies": 1_682, "users": 943},
)

_ML_1M = Dataset(
    name="ml-1m",
    folder="ml-1m",
    family="dat",
    ratings=TableFile("ratings.dat", "::", "latin-1", ("UserID", "MovieID", "Rating", "Timestamp")),
    movies=TableFile("movies.dat", "::", "latin-1", ("MovieID", "Title", "Genres")),
    users=TableFile("users.dat", "::", "latin-1", ("UserID", "Gender", "Age", "Occupation", "Zip-code")),
    rating_values=INTEGER_STARS,
    genre_format="pipe",
    genres=GENRES_DAT,
    zip_md5="c4d9eecfca2ab87c1945afe126590906",
    zip_sha256="a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
    zip_bytes=5_917_549,
    extra_files=("README",),
    rating_years=(2000, 2003),
    rows={"ratings": 1_000_209, "movies": 3_883, "users": 6_040},
)

_ML_10M = Dataset(
    name="ml-10m",
    folder="ml-10M100K",
    family="dat",
    ratings=TableFile("ratings.dat", "::", "utf-8|latin-1", ("UserID", "MovieID", "Rating", "Timestamp")),
    movies=TableFile("movies.dat", "::", "utf-8|latin-1", ("MovieID", "Title", "Genres")),
    tags=TableFile("tags.dat", "::", "utf-8|latin-1", ("UserID", "MovieID", "Tag", "Timestamp")),
    rating_values=HALF_STARS,
    genre_format="pipe",
    genres=GENRES_DAT + ("IMAX",),
    zip_md5="ce571fd55effeba0271552578f2648bd",
    extra_files=("README.html",),
    rating_years=(1995, 2009),
    rows={"ratings": 10_000_054, "movies": 10_681, "tags": 95_580},
)

_ML_LATEST_SMALL = _csv_edition(
    "ml-latest-small",
    zip_md5="31a303aabbc519bd33d025e44d6c2570",
    zip_sha256="696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
    zip_bytes=978_202,
    file_sha256={
        "README.txt": "63d22ac138e80fae37021797ed8e1b9424b5239dc576a137422adf783ae3f404",
        "links.csv": "97ad18e4e56a09363c65676b6cb3482ce3e2cea2372a24620c1599c843325f31",
        "movies.csv": "5a5f32dd9bb3797b8e728a1b98958789d2b13f294a69fdfbc5727f8a9611aa07",
        "ratings.csv": "aa289ca83157595d0df6aea1be6a4ded676ddc4385472e8313a8ed9805352646",
        "tags.csv": "92a9f8bb7916dceef6151209845788c3643f794dfa79d1feaec7121b5960399d",
    },
    extra_files=("README.txt",),
    rating_years=(1996, 2018),
    rows={"ratings": 100_836, "movies": 9_742, "tags": 3_683, "links": 9_742},
)

_ML_20M = _csv_edition(
    "ml-20m",
    zip_md5="cd245b17a1ae2cc31bb14903e1204af3",
    zip_sha256="96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3",
    zip_bytes=198_702_078,
    extra_files=("README.txt", "genome-scores.csv", "genome-tags.csv"),
    rating_years=(1995, 2015),
    rows={"ratings": 20_000_263, "movies": 27_278, "tags": 465_564, "links": 27_278},
)

_ML_25M = _csv_edition(
    "ml-25m",
    zip_md5="6b51fb2759a8657d3bfcbfc42b592ada",
    zip_sha256="8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa",
    zip_bytes=261_978_986,
    extra_files=("README.txt", "genome-scores.csv", "genome-tags.csv"),
    rating_years=(1995, 2019),
    rows={"ratings": 25_000_095, "movies": 62_423, "tags": 1_093_360, "links": 62_423},
)

_ML_32M = _csv_edition(
    "ml-32m",
    zip_md5="d472be332d4daa821edc399621853b57",
    zip_bytes=238_950_008,
    extra_files=("README.txt", "checksums.txt"),
    rating_years=(1995, 2023),
    rows={"ratings": 32_000_204, "movies": 87_585, "tags": 2_000_072, "links": 87_585},
)

DATASETS: dict[str, Dataset] = {
    d.name: d for d in (_ML_100K, _ML_LATEST_SMALL, _ML_1M, _ML_10M, _ML_20M, _ML_25M, _ML_32M)
}
NAMES = tuple(DATASETS)


def get(name: str) -> Dataset:
    """The registry entry for `name`; DatasetError lists the known names otherwise."""
    try:
        return DATASETS[name]
    except KeyError:
        raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(NAMES)}") from None
